//! What lineup and its libraries log, read by a test: [`CapturedLogs`] keeps
//! every event of the test's thread, where `#[sqlx::test]`'s runtime runs the
//! in-process server and its connection pools too.

use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing::subscriber::DefaultGuard;

/// Every log event of this thread, from [`start`](Self::start) until dropped,
/// as text (one line each: level, target, message and fields).
pub struct CapturedLogs {
    text: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

/// The writer the subscriber formats into: the shared buffer.
#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Starts capturing events of INFO and above.
    pub fn start() -> Self {
        let text = Arc::new(Mutex::new(Vec::new()));
        let buffer = Buffer(text.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || buffer.clone())
            .finish();
        Self {
            text,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().expect("log buffer")).into_owned()
    }
}
