//! `/profile`: the caller's name, password and two-step verification.

use leptos::{either::Either, prelude::*};
use types::Permission;

use crate::{
    components::{
        forms::{error_text, field_error},
        viewer::{SignInFirst, ViewerResource},
    },
    AppError,
};

#[server(endpoint = "profile/name")]
pub async fn update_name(name: String) -> Result<String, AppError> {
    let s = crate::session::ssr::require_fn::<UpdateName>().await?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(s.scope.as_ref()).await?;
    let user = store::accounts::set_name(tx.conn(), s.user_id, &name).await?;
    tx.commit().await?;
    Ok(user.name)
}

/// Changing the password ends every session, this one included: back to the sign-in page.
#[server(endpoint = "profile/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use store::accounts::PasswordChangeError as E;
    let s = crate::session::ssr::require_fn::<ChangePassword>().await?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(s.scope.as_ref()).await?;
    let result = store::accounts::change_password(
        tx.conn(),
        &s.actor,
        s.user_id,
        current_password,
        new_password,
    )
    .await;
    if result.is_ok() {
        tx.commit().await?;
    }
    match result {
        Ok(()) => {
            leptos_axum::redirect("/login?notice=password_changed");
            Ok(())
        }
        Err(E::CurrentWrong) => Err(AppError::invalid(
            "current_password",
            "current password: is wrong",
        )),
        Err(E::Policy(reason)) => Err(AppError::invalid(
            "new_password",
            format!("new password: {reason}"),
        )),
        Err(E::Store(e)) => Err(AppError::from(e)),
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let viewer = expect_context::<ViewerResource>().0;
    let rename = ServerAction::<UpdateName>::new();
    let password = ServerAction::<ChangePassword>::new();
    let error = |e: AppError| {
        view! {
            <p class="field-error" role="alert">
                {error_text(&e)}
            </p>
        }
    };
    view! {
        <section class="card">
            <h1>"Profile"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let viewer = viewer.await;
                    crate::components::built_by_the_render_alone().await;
                    match viewer.ok().flatten() {
                        Some(v) => {
                            Either::Left(
                                view! {
                                    <dl class="status" id="profile">
                                        <dt>"E-mail"</dt>
                                        <dd>{v.email.clone()}</dd>
                                        <dt>"Role"</dt>
                                        <dd id="profile-role">{v.role.as_str()}</dd>
                                        <dt>"Workspace"</dt>
                                        <dd>{v.tenant.clone().unwrap_or_else(|| "— (installation)".into())}</dd>
                                        <dt>"Permissions"</dt>
                                        <dd id="profile-permissions">{v
                                                .permissions()
                                                .iter()
                                                .map(|p| p.as_str())
                                                .collect::<Vec<_>>()
                                                .join(", ")}</dd>
                                    </dl>
                                    <h2>"Name"</h2>
                                    // Only roles with profile.edit may rename themselves (the
                                    // server refuses the others whatever the page shows).
                                    {if v.can(Permission::ProfileEdit) {
                                        Either::Left(view! {
                                            <ActionForm action=rename attr:class="row" attr:id="name-form">
                                                <input name="name" id="profile-name" value=v.name.clone() maxlength="200" placeholder="Your name" />
                                                <button type="submit" class="button" id="save-name">
                                                    "Save"
                                                </button>
                                            </ActionForm>
                                            {move || match rename.value().get() {
                                                Some(Ok(_)) => Some(view! { <p class="notice" role="status" id="name-saved">"Saved."</p> }.into_any()),
                                                Some(Err(e)) => Some(error(e).into_any()),
                                                None => None,
                                            }}
                                        })
                                    } else {
                                        Either::Right(view! {
                                            <p id="profile-name-text">
                                                {if v.name.is_empty() { "—".to_string() } else { v.name.clone() }}
                                            </p>
                                            <p class="muted">
                                                {format!("Your role ({}) does not include profile.edit, so the name is set by whoever manages the workspace.", v.role)}
                                            </p>
                                        })
                                    }}
                                    <h2>"Password"</h2>
                                    <p class="muted">"Changing it signs you out everywhere, here included."</p>
                                    <ActionForm action=password attr:class="stack narrow" attr:id="password-form">
                                        <input type="email" value=v.email.clone() hidden autocomplete="username" />
                                        <label>
                                            "Current password"
                                            <input name="current_password" id="current-password" type="password" required autocomplete="current-password" aria-describedby="current-password-error" />
                                        </label>
                                        {field_error(password.value(), "current_password", "current-password-error")}
                                        <label>
                                            "New password"
                                            <input name="new_password" id="new-password" type="password" required minlength="12" autocomplete="new-password" aria-describedby="new-password-error" />
                                        </label>
                                        {field_error(password.value(), "new_password", "new-password-error")}
                                        {move || password.value().get().and_then(|r| r.err()).filter(|e| e.general().is_some()).map(error)}
                                        <button type="submit" class="button" id="change-password">
                                            "Change password"
                                        </button>
                                    </ActionForm>
                                    <crate::pages::mfa::SecurityPanel />
                                },
                            )
                        }
                        None => Either::Right(view! { <SignInFirst /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}
