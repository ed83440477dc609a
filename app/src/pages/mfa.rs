//! Second factors: the `/login/mfa` page (the code a password sign-in still owes, or setting
//! up the app a workspace requires), and the profile's Two-step verification panel. The
//! rules are `store::mfa`'s; the REST twins are in `server::api::mfa`.

use leptos::{either::Either, prelude::*};
use leptos_router::hooks::use_query_map;
use types::mfa::{Enrolment, Status};

use crate::{
    components::forms::{error_text, field_error, Changes},
    AppError,
};

/// What the `/login/mfa` page shows: `enrol` is the app to set up when the workspace requires
/// one the person lacks; `None` asks for a code.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OwedStep {
    pub enrol: Option<Enrolment>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{session::ssr::Session, AppError};

    /// The challenge cookie of the request being served.
    pub fn challenge_cookie() -> Option<String> {
        let cx = crate::ssr::server_context().ok()?;
        crate::ssr::request_cookie(cx.mfa_cookie)
    }

    pub async fn tx(s: &Session) -> Result<store::ScopedTx, AppError> {
        let store = crate::ssr::server_context()?.store;
        Ok(store.scoped_tx(s.scope.as_ref()).await?)
    }

    /// Why a code was not taken, as the REST twins say it.
    pub fn refusal<T>(checked: store::mfa::Checked<T>) -> Result<T, AppError> {
        match checked {
            store::mfa::Checked::Done(t) => Ok(t),
            store::mfa::Checked::WrongCode => Err(AppError::invalid(
                "code",
                "code: is not the code your authenticator app shows now, nor an unused recovery code",
            )),
            store::mfa::Checked::Locked => Err(AppError::invalid(
                "code",
                "code: too many wrong codes; try again in 15 minutes",
            )),
        }
    }
}

#[server(endpoint = "mfa/second_step")]
pub async fn second_step() -> Result<OwedStep, AppError> {
    let cx = crate::ssr::server_context()?;
    // Not a 401: nobody is asked to sign in for this; the sign-in it belonged to is over.
    let expired = || {
        AppError::invalid(
            "mfa_token",
            "this sign-in expired or was used up; sign in with your password again",
        )
    };
    let token = ssr::challenge_cookie().ok_or_else(expired)?;
    let live = store::mfa::live(&cx.store, &token, false)
        .await?
        .ok_or_else(expired)?;
    Ok(OwedStep {
        enrol: match live.owed {
            store::mfa::Owed::Enrol => Some(live.enrolment(&cx.store, &cx.sealer).await?),
            store::mfa::Owed::Verify => None,
        },
    })
}

#[server(endpoint = "profile/mfa")]
pub async fn mfa_status() -> Result<Status, AppError> {
    let s = crate::session::ssr::require_fn::<MfaStatus>().await?;
    let mut tx = ssr::tx(&s).await?;
    let user = store::accounts::get(tx.conn(), s.user_id).await?;
    let status = store::mfa::status(tx.conn(), &user, s.scope.is_some()).await?;
    tx.commit().await?;
    Ok(status)
}

#[server(endpoint = "profile/mfa/begin")]
pub async fn begin_mfa() -> Result<Enrolment, AppError> {
    let s = crate::session::ssr::require_fn::<BeginMfa>().await?;
    let sealer = crate::ssr::server_context()?.sealer;
    let mut tx = ssr::tx(&s).await?;
    let label = store::mfa::account_label(&s.viewer.email, s.viewer.tenant.as_deref());
    let e = store::mfa::begin(tx.conn(), &sealer, s.user_id, &label).await?;
    tx.commit().await?;
    Ok(e)
}

/// The recovery codes, shown once.
#[server(endpoint = "profile/mfa/confirm")]
pub async fn confirm_mfa(code: String) -> Result<Vec<String>, AppError> {
    let s = crate::session::ssr::require_fn::<ConfirmMfa>().await?;
    let sealer = crate::ssr::server_context()?.sealer;
    let mut tx = ssr::tx(&s).await?;
    let checked = store::mfa::confirm(tx.conn(), &sealer, &s.actor, s.user_id, &code).await?;
    tx.commit().await?;
    ssr::refusal(checked)
}

#[server(endpoint = "profile/mfa/recovery_codes")]
pub async fn renew_recovery_codes(code: String) -> Result<Vec<String>, AppError> {
    let s = crate::session::ssr::require_fn::<RenewRecoveryCodes>().await?;
    let sealer = crate::ssr::server_context()?.sealer;
    let mut tx = ssr::tx(&s).await?;
    let checked =
        store::mfa::renew_recovery_codes(tx.conn(), &sealer, &s.actor, s.user_id, &code).await?;
    tx.commit().await?;
    ssr::refusal(checked)
}

#[server(endpoint = "profile/mfa/off")]
pub async fn turn_off_mfa(code: String) -> Result<(), AppError> {
    let s = crate::session::ssr::require_fn::<TurnOffMfa>().await?;
    let sealer = crate::ssr::server_context()?.sealer;
    let mut tx = ssr::tx(&s).await?;
    let user = store::accounts::get(tx.conn(), s.user_id).await?;
    let checked = store::mfa::turn_off(
        tx.conn(),
        &sealer,
        &s.actor,
        &user,
        s.scope.is_some(),
        &code,
    )
    .await?;
    tx.commit().await?;
    ssr::refusal(checked)
}

/// The QR code and the seed as text (for typing in, and for anyone who cannot scan).
#[component]
fn AppToSetUp(enrolment: Enrolment) -> impl IntoView {
    view! {
        <div class="enrolment">
            <div
                class="qr"
                id="mfa-qr"
                role="img"
                aria-label="QR code of the authenticator key shown below"
                inner_html=enrolment.qr_svg
            ></div>
            <div class="stack">
                <p>"Scan the code with an authenticator app (1Password, Authy, Google Authenticator…), or type this key into it:"</p>
                <p>
                    <code class="secret" id="mfa-secret">{enrolment.secret}</code>
                </p>
            </div>
        </div>
    }
}

/// The page a password sign-in goes to when a second step is owed. Its form is plain HTML
/// posting to `/auth/mfa`, so it works before (and without) the WASM.
#[component]
pub fn SecondStepPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    let step = Resource::new(|| (), |_| second_step());
    let message = move || {
        match get("error").as_str() {
        "code" => "That code did not work. Codes change every 30 seconds and each works once; a recovery code works once too.",
        "throttled" => "Too many attempts. Wait a little and try again.",
        _ => "",
    }
    };
    view! {
        <section class="card narrow">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match step.await {
                        Err(e) => Either::Left(view! {
                            <h1>"Two-step verification"</h1>
                            <p class="error" role="alert" id="mfa-expired">{error_text(&e)}</p>
                            <p><a href="/login" class="button">"Sign in again"</a></p>
                        }),
                        Ok(step) => {
                            let enrolling = step.enrol.is_some();
                            Either::Right(view! {
                                <h1>{if enrolling { "Set up two-step verification" } else { "Two-step verification" }}</h1>
                                {step.enrol.map(|e| view! {
                                    <p>"Your workspace requires a second step at sign-in. Set up an authenticator app now; you will make recovery codes next."</p>
                                    <AppToSetUp enrolment=e />
                                })}
                                {(!enrolling).then(|| view! {
                                    <p>"Enter the 6-digit code your authenticator app shows, or one of your recovery codes."</p>
                                })}
                                {move || (!message().is_empty()).then(|| view! {
                                    <p class="field-error" role="alert" id="code-error">{message()}</p>
                                })}
                                <form method="post" action="/api/v1/auth/form/mfa" class="stack" id="mfa-form">
                                    <input type="hidden" name="next" value=get("next") />
                                    <label>
                                        {if enrolling { "Code from the app" } else { "Code" }}
                                        <input
                                            name="code"
                                            id="mfa-code"
                                            required
                                            autocomplete="one-time-code"
                                            autocapitalize="off"
                                            spellcheck="false"
                                            maxlength="20"
                                            aria-describedby="code-error"
                                        />
                                    </label>
                                    <button type="submit" class="button" id="mfa-verify">
                                        {if enrolling { "Confirm and sign in" } else { "Verify" }}
                                    </button>
                                </form>
                                <p class="row">
                                    <a href="/login" class="button secondary" id="mfa-restart">"Start again"</a>
                                </p>
                                {(!enrolling).then(|| view! {
                                    <p class="muted">"Lost your device and your recovery codes? A workspace admin can reset your two-step verification."</p>
                                })}
                            })
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Recovery codes, shown once, with a way to keep them.
#[component]
fn RecoveryCodes(codes: Vec<String>, on_done: Callback<()>) -> impl IntoView {
    let text = codes.join("\n");
    let href = format!(
        "data:text/plain;charset=utf-8,{}",
        text.replace('\n', "%0A")
    );
    view! {
        <div class="recovery" role="status">
            <p>
                <strong>"Save these recovery codes now."</strong>
                " Each works once in place of a code from your app; they will not be shown again."
            </p>
            <ol class="codes" id="recovery-codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ol>
            <p class="row">
                <a class="button secondary" href=href download="devpulse-recovery-codes.txt" id="download-codes">
                    "Download"
                </a>
                <button type="button" class="button" id="codes-saved" on:click=move |_| on_done.run(())>
                    "I have saved them"
                </button>
            </p>
        </div>
    }
}

/// The profile's Two-step verification panel.
#[component]
pub fn SecurityPanel() -> impl IntoView {
    let query = use_query_map();
    let begin = ServerAction::<BeginMfa>::new();
    let confirm = ServerAction::<ConfirmMfa>::new();
    let renew = ServerAction::<RenewRecoveryCodes>::new();
    let off = ServerAction::<TurnOffMfa>::new();
    // Codes just made (by confirming or renewing), until the person says they are saved.
    let shown = RwSignal::new(None::<Vec<String>>);
    let changes = Changes::default()
        .watch(confirm.value())
        .watch(renew.value())
        .watch(off.value());
    Effect::new(move || {
        if let Some(Ok(codes)) = confirm.value().get() {
            shown.set(Some(codes));
        }
    });
    Effect::new(move || {
        if let Some(Ok(codes)) = renew.value().get() {
            shown.set(Some(codes));
        }
    });
    let status = Resource::new(move || changes.get(), |_| mfa_status());
    let just_enrolled = move || query.with(|q| q.get("mfa").as_deref() == Some("enrolled"));
    let done = Callback::new(move |_| shown.set(None));
    view! {
        <h2 id="security">"Two-step verification"</h2>
        {move || shown.get().map(|codes| view! { <RecoveryCodes codes on_done=done /> })}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => Either::Left(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
                    Ok(s) => Either::Right(if s.enrolled {
                        Either::Left(view! {
                            <p id="mfa-state">
                                "On: sign-in asks for a code from your authenticator app. "
                                {format!("{} of 10 recovery codes left.", s.recovery_codes_left)}
                            </p>
                            {(just_enrolled() && shown.get_untracked().is_none()).then(|| view! {
                                <p class="notice" role="status" id="mfa-make-codes">
                                    "Your authenticator app is set up. Make your recovery codes now: enter a code from the app and choose New recovery codes."
                                </p>
                            })}
                            <ActionForm action=renew attr:class="row" attr:id="renew-form">
                                <label class="inline-label">
                                    "Code from your app"
                                    <input name="code" id="renew-code" required autocomplete="one-time-code" maxlength="20" aria-describedby="renew-code-error" />
                                </label>
                                <button type="submit" class="button secondary" id="mfa-renew">"New recovery codes"</button>
                            </ActionForm>
                            {field_error(renew.value(), "code", "renew-code-error")}
                            {if s.required {
                                Either::Left(view! {
                                    <p class="muted" id="mfa-required">"Your workspace requires two-step verification of your role, so it cannot be turned off."</p>
                                })
                            } else {
                                Either::Right(view! {
                                    <ActionForm action=off attr:class="row" attr:id="off-form">
                                        <label class="inline-label">
                                            "Code from your app"
                                            <input name="code" id="off-code" required autocomplete="one-time-code" maxlength="20" aria-describedby="off-code-error" />
                                        </label>
                                        <button type="submit" class="button danger" id="mfa-off">"Turn off"</button>
                                    </ActionForm>
                                    {field_error(off.value(), "code", "off-code-error")}
                                })
                            }}
                        })
                    } else {
                        Either::Right(view! {
                            <p id="mfa-state">
                                {if s.required {
                                    "Off. Your workspace requires it: set it up now."
                                } else {
                                    "Off. A code from an authenticator app at sign-in keeps your account safe even if your password leaks."
                                }}
                            </p>
                            {move || match begin.value().get() {
                                Some(Ok(e)) => Either::Left(view! {
                                    <AppToSetUp enrolment=e />
                                    <ActionForm action=confirm attr:class="row" attr:id="confirm-form">
                                        <label class="inline-label">
                                            "Code from the app"
                                            <input name="code" id="confirm-code" required autocomplete="one-time-code" maxlength="20" aria-describedby="confirm-code-error" />
                                        </label>
                                        <button type="submit" class="button" id="mfa-confirm">"Turn on"</button>
                                    </ActionForm>
                                    {field_error(confirm.value(), "code", "confirm-code-error")}
                                }),
                                other => Either::Right(view! {
                                    {other.and_then(Result::err).map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })}
                                    <ActionForm action=begin attr:id="begin-form">
                                        <button type="submit" class="button" id="mfa-begin">"Set up an authenticator app"</button>
                                    </ActionForm>
                                }),
                            }}
                        })
                    }),
                }
            })}
        </Transition>
    }
}
