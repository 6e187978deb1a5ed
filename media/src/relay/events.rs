//! The channel that carries a session's media events (digits, playback
//! ends, recordings' outcomes) from its relay task and its recordings'
//! writer threads to the conversation.
//!
//! The relay task never waits for the conversation, so the channel is
//! unbounded underneath with the bound counted here, like the conversation's
//! own inputs: up to [`MEDIA_EVENT_QUEUE`] events may be unread; the next one
//! is replaced by [`MediaEvent::Overflow`] (once), and nothing is queued
//! after it. Nothing is dropped silently: the conversation learns it fell
//! behind and ends the call. A conversation that reads its inputs never gets
//! near the bound: events come at the pace of key presses and prompts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use tokio::sync::mpsc;

use crate::endpoint::MediaEvent;
use crate::latch::EndpointId;

/// Media events a conversation may leave unread before the rest is replaced
/// by [`MediaEvent::Overflow`].
pub const MEDIA_EVENT_QUEUE: usize = 256;

/// The relay task's end.
#[derive(Debug)]
pub(crate) struct MediaEventSender {
    tx: mpsc::UnboundedSender<(EndpointId, MediaEvent)>,
    queued: Arc<AtomicUsize>,
    overflowed: bool,
}

/// The conversation's end of a media session's events.
#[derive(Debug)]
pub struct MediaEventReceiver {
    rx: mpsc::UnboundedReceiver<(EndpointId, MediaEvent)>,
    queued: Arc<AtomicUsize>,
}

/// A session's event channel.
pub(crate) fn channel() -> (MediaEventSender, MediaEventReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        MediaEventSender {
            tx,
            queued: Arc::clone(&queued),
            overflowed: false,
        },
        MediaEventReceiver { rx, queued },
    )
}

impl MediaEventSender {
    /// Another sender into the same channel and bound (a recording's
    /// writer thread reports through one).
    pub(crate) fn share(&self) -> MediaEventSender {
        MediaEventSender {
            tx: self.tx.clone(),
            queued: Arc::clone(&self.queued),
            overflowed: false,
        }
    }

    /// Queues `event`; past the bound, [`MediaEvent::Overflow`] instead, once.
    pub(crate) fn deliver(&mut self, ep: EndpointId, event: MediaEvent) {
        if self.overflowed {
            return;
        }
        let event = if self.queued.load(Ordering::Relaxed) >= MEDIA_EVENT_QUEUE {
            self.overflowed = true;
            MediaEvent::Overflow
        } else {
            event
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        // The conversation dropped its end: nobody wants the events.
        let _ = self.tx.send((ep, event));
    }
}

impl MediaEventReceiver {
    /// The next event; `None` once the session's task has ended and every
    /// event was read.
    pub async fn recv(&mut self) -> Option<(EndpointId, MediaEvent)> {
        let ev = self.rx.recv().await?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(ev)
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<(EndpointId, MediaEvent)> {
        let ev = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(ev)
    }

    /// Drops this end for good, before the session ends, so that its end
    /// wakes nobody: the channel's last sender wakes the task waiting on the
    /// receiver, which lives on another runtime (a wake-up through that
    /// runtime's eventfd per call). A last poll with a no-op waker leaves no
    /// waiting task registered, whatever the channel does with it.
    pub fn close_quietly(mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        while let Poll::Ready(Some(_)) = self.rx.poll_recv(&mut cx) {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::{Digit, DigitSource};
    use std::time::Duration;

    fn digit() -> MediaEvent {
        MediaEvent::Digit {
            digit: Digit::D1,
            duration: Duration::from_millis(100),
            source: DigitSource::Rfc4733,
        }
    }

    #[test]
    fn past_the_bound_the_conversation_is_told_not_left_guessing() {
        let (mut tx, mut rx) = channel();
        let ep = EndpointId(3);
        for _ in 0..MEDIA_EVENT_QUEUE {
            tx.deliver(ep, digit());
        }
        tx.deliver(ep, digit());
        tx.deliver(ep, digit());
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert_eq!(got.len(), MEDIA_EVENT_QUEUE + 1);
        assert_eq!(got.last(), Some(&(ep, MediaEvent::Overflow)));
        assert_eq!(rx.queued.load(Ordering::Relaxed), 0);
    }

    /// Counts its wake-ups.
    struct Counter(AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_receiver_closed_quietly_is_not_woken_by_the_end_of_the_session() {
        for quietly in [false, true] {
            let (tx, mut rx) = channel();
            let counter = Arc::new(Counter(AtomicUsize::new(0)));
            let waker = Waker::from(Arc::clone(&counter));
            let mut cx = Context::from_waker(&waker);
            // The conversation waits for an event: its task is registered.
            assert!(rx.rx.poll_recv(&mut cx).is_pending());
            // The session ends (its task drops the sender) while the
            // conversation still holds its end, or after it closed it.
            let kept = if quietly {
                rx.close_quietly();
                None
            } else {
                Some(rx)
            };
            drop(tx);
            let woken = counter.0.load(Ordering::Relaxed);
            assert_eq!(woken, usize::from(!quietly), "quietly: {quietly}");
            drop(kept);
        }
    }

    #[test]
    fn events_read_in_time_never_overflow() {
        let (mut tx, mut rx) = channel();
        for _ in 0..(10 * MEDIA_EVENT_QUEUE) {
            tx.deliver(EndpointId(0), digit());
            assert_eq!(rx.try_recv(), Some((EndpointId(0), digit())));
        }
    }
}
