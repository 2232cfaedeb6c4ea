//! A work queue of directories for a fixed set of workers: `pop` blocks until there is work or
//! until every worker is idle and the queue is empty (then the walk is over).

use parking_lot::{Condvar, Mutex};

pub struct WorkQueue<T> {
    state: Mutex<(Vec<T>, usize)>,
    cv: Condvar,
}

impl<T> WorkQueue<T> {
    pub fn new(first: T) -> WorkQueue<T> {
        WorkQueue { state: Mutex::new((vec![first], 0)), cv: Condvar::new() }
    }

    pub fn push(&self, item: T) {
        self.state.lock().0.push(item);
        self.cv.notify_one();
    }

    /// The next item (counting the caller as busy until it calls `done`), or None when all work
    /// is finished.
    pub fn pop(&self) -> Option<T> {
        let mut st = self.state.lock();
        loop {
            if let Some(item) = st.0.pop() {
                st.1 += 1;
                return Some(item);
            }
            if st.1 == 0 {
                self.cv.notify_all();
                return None;
            }
            self.cv.wait(&mut st);
        }
    }

    pub fn done(&self) {
        let mut st = self.state.lock();
        st.1 -= 1;
        if st.1 == 0 && st.0.is_empty() {
            self.cv.notify_all();
        }
    }
}
