//! A liveview socket made of two channels: what `dioxus_liveview::run`
//! sends goes to the page's end, what the page sends comes out of it.

use std::pin::Pin;
use std::task::{Context, Poll};

use dioxus_liveview::LiveViewError;
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::{Sink, Stream};

/// The VirtualDom's end: frames in from the page, frames out to it.
pub struct VdomEnd {
    to_page: UnboundedSender<Vec<u8>>,
    from_page: UnboundedReceiver<Vec<u8>>,
}

/// Both ends of a new socket.
pub struct Socket {
    /// For `dioxus_liveview::run`.
    pub vdom: VdomEnd,
    /// Frames for the page.
    pub outgoing: UnboundedReceiver<Vec<u8>>,
}

/// A new socket and the sender the page's frames are fed into.
pub fn socket() -> (Socket, UnboundedSender<Vec<u8>>) {
    let (to_page, outgoing) = unbounded();
    let (incoming, from_page) = unbounded();
    let vdom = VdomEnd { to_page, from_page };
    (Socket { vdom, outgoing }, incoming)
}

impl Stream for VdomEnd {
    type Item = Result<Vec<u8>, LiveViewError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.from_page)
            .poll_next(cx)
            .map(|f| f.map(Ok))
    }
}

impl Sink<Vec<u8>> for VdomEnd {
    type Error = LiveViewError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(if self.to_page.is_closed() {
            Err(LiveViewError::SendingFailed)
        } else {
            Ok(())
        })
    }

    fn start_send(self: Pin<&mut Self>, frame: Vec<u8>) -> Result<(), Self::Error> {
        self.to_page
            .unbounded_send(frame)
            .map_err(|_| LiveViewError::SendingFailed)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_page.close_channel();
        Poll::Ready(Ok(()))
    }
}
