// The dedicated (module) worker that runs the whole app (web/src/lib.rs):
// loads the wasm-bindgen output and starts it against the server that
// served the page.
import init, { start } from './beatbook_web.js';

try {
  await init();
  await start(self.location.origin);
} catch (e) {
  self.postMessage({ failed: `应用无法启动 / The app could not start: ${e}` });
}
