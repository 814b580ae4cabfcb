//! Why a request failed, for the one log line of the HTTP edge. `ApiError`
//! carries no cause (it is the catalogue clients see, compared in tests), so
//! the cause travels beside it, in a slot of the request's task.

use std::cell::RefCell;
use std::error::Error;

tokio::task_local! {
    static CAUSE: RefCell<Option<String>>;
}

/// Keeps the cause chain of an infrastructure failure that is about to
/// become `INTERNAL_ERROR` or `SERVICE_UNAVAILABLE`, for the one line the
/// HTTP edge logs when the request ends in one of them (the last cause
/// noted wins). Outside a request (the CLI, seeding) no edge logs it, so it
/// is logged here. Error messages must not hold emails, codes or tokens.
pub fn note_cause(err: &(dyn Error + 'static)) {
    let chain = cause_chain(err);
    if CAUSE.try_with(|_| ()).is_ok() {
        CAUSE.with(|slot| *slot.borrow_mut() = Some(chain));
    } else {
        tracing::error!(cause = %chain, "failure outside a request");
    }
}

/// Runs `request` with a slot for [`note_cause`]: its output, and the last
/// cause noted while it ran.
pub async fn with_cause_slot<F: Future>(request: F) -> (F::Output, Option<String>) {
    CAUSE
        .scope(RefCell::new(None), async {
            let output = request.await;
            (output, CAUSE.with(|slot| slot.borrow_mut().take()))
        })
        .await
}

/// `error: source: source of the source…` on one line.
fn cause_chain(err: &(dyn Error + 'static)) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        // Store and mail errors already name their cause in their message.
        let text = cause.to_string();
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[tokio::test]
    async fn a_cause_noted_during_a_request_comes_back_with_its_chain() {
        let (output, cause) = with_cause_slot(async {
            note_cause(&Inner);
            note_cause(&Outer(Inner));
            7
        })
        .await;
        assert_eq!((output, cause.as_deref()), (7, Some("outer: inner")));
        let (_, none) = with_cause_slot(async {}).await;
        assert_eq!(none, None);
        // Outside a request it is logged at once, not kept.
        note_cause(&Inner);
    }
}
