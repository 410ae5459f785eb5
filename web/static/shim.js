// The page's end of the web build (web/src/lib.rs): starts the worker that
// runs the app, and stands in for the WebSocket that Dioxus liveview's
// interpreter opens, so its frames travel over postMessage. Also: photos
// for the app (window.beatbookUpload), the position, persistent storage,
// the service worker.
'use strict';
(() => {
  const worker = new Worker('worker.js', { type: 'module' });
  let ready = false;
  let socket = null;
  // The worker drops what comes before its app listens: held until then.
  const unsent = [];
  function toWorker(message, transfer = []) {
    if (ready) worker.postMessage(message, transfer);
    else unsent.push([message, transfer]);
  }
  const early = [];
  const uploads = new Map();
  let uploadCount = 0;

  /** Shows the officer a line above the app (one per `id`). */
  function say(id, text) {
    let box = document.getElementById(id);
    if (!box) {
      box = document.createElement('p');
      box.id = id;
      box.className = 'web-notice';
      box.setAttribute('role', 'alert');
      document.body.prepend(box);
    }
    box.textContent = text;
  }

  worker.onmessage = (e) => {
    const m = e.data;
    if (m.lv !== undefined) {
      if (socket?.onmessage) socket.onmessage({ data: m.lv });
      else early.push(m.lv);
    } else if (m.uploaded !== undefined) {
      uploads.get(m.n)?.(m.uploaded);
      uploads.delete(m.n);
    } else if (m.ready) {
      ready = true;
      for (const [message, transfer] of unsent.splice(0)) worker.postMessage(message, transfer);
      socket?.onopen?.();
    } else if (m.failed) {
      say('web-failed', m.failed);
    }
  };
  worker.onerror = (e) => say('web-failed', `应用无法启动，请刷新页面 / The app could not start (${e.message}): reload the page`);

  /** What liveview's interpreter takes for its WebSocket. */
  class WorkerSocket {
    constructor() {
      socket = this;
      this.binaryType = 'arraybuffer';
      queueMicrotask(() => {
        for (const frame of early.splice(0)) this.onmessage?.({ data: frame });
        if (ready) this.onopen?.();
      });
    }
    send(msg) {
      toWorker({ lv: msg });
    }
    close() {}
  }
  window.WebSocket = WorkerSocket;

  // The photo input's script (app/src/ui/fields.rs) hands files over here.
  window.beatbookUpload = async (file) => {
    const buffer = await file.arrayBuffer();
    uploadCount += 1;
    const n = uploadCount;
    return new Promise((resolve) => {
      uploads.set(n, resolve);
      toWorker({ upload: buffer, n }, [buffer]);
    });
  };

  navigator.geolocation?.watchPosition(
    (p) => toWorker({ fix: { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy, at: p.timestamp } }),
    (e) => toWorker({ fix_error: e.code }), // the Locate button says why
    { enableHighAccuracy: true, maximumAge: 30000 },
  );

  // The app syncs by itself when the network is back (app/src/ui/sync.rs).
  window.addEventListener('online', () => toWorker({ online: true }));

  // Background syncs wait while the page is hidden (screen locked, another
  // app in front) or the battery is low and not charging.
  let battery = null;
  const conditions = () => toWorker({ conditions: {
    hidden: document.visibilityState === 'hidden',
    battery_low: !!battery && !battery.charging && battery.level < 0.15,
  } });
  document.addEventListener('visibilitychange', conditions);
  navigator.getBattery?.().then((b) => {
    battery = b;
    b.addEventListener('levelchange', conditions);
    b.addEventListener('chargingchange', conditions);
    conditions();
  }).catch(() => { /* no battery facts: syncing is not held back */ });

  window.addEventListener('DOMContentLoaded', async () => {
    if (!(await navigator.storage?.persist?.())) {
      say('storage-refused', '浏览器未允许持久保存：空间不足时本机数据可能被清除。请把本应用添加到主屏幕，并尽快同步。 / '
        + 'The browser refused persistent storage: it may clear this phone\'s data when space runs low. Add the app to the home screen and sync often.');
    }
  });

  navigator.serviceWorker?.register('sw.js', { scope: './' }).catch((e) =>
    say('web-offline', `离线功能不可用 / Offline use is unavailable (${e.message})`));
})();
