//! What every form shows around an action: the error beside the field it names, and when the
//! data under the form is worth fetching again.

use leptos::prelude::*;

use crate::AppError;

/// A server function's error as the person should read it.
pub fn error_text(e: &AppError) -> String {
    e.message.clone()
}

/// The error an action answered for the input `field`, shown beside it (with `id`, which the
/// input names in `aria-describedby`).
pub fn field_error<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    field: &'static str,
    id: &'static str,
) -> impl IntoView {
    move || {
        value
            .get()
            .and_then(Result::err)
            .and_then(|e| e.for_field(field))
            .map(|message| {
                view! {
                    <p class="field-error" id=id role="alert">
                        {message}
                    </p>
                }
            })
    }
}

/// Counts the successful answers of the actions it watches: the key of a resource that must
/// refetch after a change. Keyed on an action's `version()` instead, a refused input would
/// refetch too, and re-create the form under it: what the person typed is wiped, and on a slow
/// server what they type next lands in a field that is about to be replaced.
#[derive(Clone, Copy)]
pub struct Changes(RwSignal<u32>);

impl Default for Changes {
    fn default() -> Self {
        Self(RwSignal::new(0))
    }
}

impl Changes {
    /// Counts `value`'s successes too (an action's `value()`).
    pub fn watch<T, E>(
        self,
        value: impl With<Value = Option<Result<T, E>>> + Send + Sync + 'static,
    ) -> Self {
        let count = self.0;
        Effect::new(move || {
            if value.with(|v| matches!(v, Some(Ok(_)))) {
                count.update(|n| *n += 1);
            }
        });
        self
    }

    /// How many so far; tracked, so a resource keyed on it refetches after each.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// What an action answered: `ok` for success; an error whose field the form shows beside that
/// field (`fields`) is left to it, any other error shows here.
pub fn show_result<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    fields: &'static [&'static str],
    ok: impl Fn(T) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Ok(v)) => Some(ok(v)),
        Some(Err(e)) if e.field.as_deref().is_some_and(|f| fields.contains(&f)) => None,
        Some(Err(e)) => {
            Some(view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any())
        }
        None => None,
    }
}
