//! Captures the tracing events (info and above) emitted on a test's thread.
//!
//! One global subscriber is installed for the whole test binary ([`install`], called by
//! [`crate::support::Proxy::start_with`] and [`crate::support::Bidder::start`] before any
//! proxy code runs), and [`capture`] collects the events emitted on the calling thread. In a
//! `current_thread` tokio test every task (the proxy's server, its connections, the follower,
//! the bidder, the client) is polled on the test's thread, so the capture sees exactly that
//! test's events, not its neighbours'.
//!
//! Why not a thread-local `set_default` subscriber: tracing caches each call site's interest
//! process-wide, and a call site first hit on another thread while a scoped subscriber comes
//! and goes can be cached as "never", silently dropping events (seen here as flaky captures).
//! A single global subscriber installed before the proxy runs keeps every interest stable.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured event.
#[derive(Clone, Debug)]
pub struct Captured {
    /// Its level.
    pub level: Level,
    /// Its target (module path).
    pub target: String,
    /// Its message and fields, as text.
    pub text: String,
}

type Sink = Arc<Mutex<Vec<Captured>>>;

/// The threads being captured, with where their events go.
static SINKS: Mutex<Vec<(ThreadId, Sink)>> = Mutex::new(Vec::new());

/// Installs the global recording subscriber (once per process; later calls do nothing).
/// Returns false when another global subscriber was installed first.
pub fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(Recorder);
        tracing::subscriber::set_global_default(subscriber).is_ok()
    })
}

/// The events of one thread; capturing stops when this is dropped.
pub struct Capture {
    thread: ThreadId,
    events: Sink,
}

impl Capture {
    /// Every event captured so far.
    pub fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }

    /// The events at `level` or more severe (ERROR is the most severe).
    pub fn at_least(&self, level: Level) -> Vec<Captured> {
        self.events()
            .into_iter()
            .filter(|e| e.level <= level)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(mut sinks) = SINKS.lock() {
            sinks.retain(|(thread, _)| *thread != self.thread);
        }
    }
}

/// Starts capturing the info-and-above events emitted on this thread.
pub fn capture() -> Capture {
    assert!(
        install(),
        "another global tracing subscriber is installed: capture through support::logs"
    );
    let thread = std::thread::current().id();
    let events: Sink = Arc::default();
    SINKS.lock().unwrap().push((thread, events.clone()));
    Capture { thread, events }
}

struct Recorder;

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let thread = std::thread::current().id();
        let Ok(sinks) = SINKS.lock() else {
            return;
        };
        let Some((_, sink)) = sinks.iter().find(|(t, _)| *t == thread) else {
            return;
        };
        let mut text = Text(String::new());
        event.record(&mut text);
        let meta = event.metadata();
        sink.lock().unwrap().push(Captured {
            level: *meta.level(),
            target: meta.target().to_owned(),
            text: text.0,
        });
    }
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use std::fmt::Write;
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = if field.name() == "message" {
            write!(self.0, "{value:?}")
        } else {
            write!(self.0, "{}={value:?}", field.name())
        };
    }
}
