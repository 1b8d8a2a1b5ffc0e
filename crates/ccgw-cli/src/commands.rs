//! What each command does, once its arguments are read.

use std::path::PathBuf;
use std::time::Duration;

use ccgw::{Agent, AgentState, Error, InitialState, RestCause, RestDuration, RetCode, SignIn};

use serde_json::json;

use crate::failure::Failure;
use crate::{
    AgentArgs, GUID_FILE_REFRESH, StartState, Target, agent_handle, confirmed_by, connect,
    print_event, print_result, secrets,
};

pub(crate) async fn sign_in(
    agent: AgentArgs,
    password_file: Option<PathBuf>,
    phone: String,
    state: StartState,
    take_over: bool,
) -> Result<(), Failure> {
    let password = secrets::password(password_file.as_deref())?;
    let request = SignIn::new(password.as_str(), phone)
        .initial_state(match state {
            StartState::Busy => InitialState::Busy,
            StartState::Idle => InitialState::Idle,
            StartState::WrapUp => InitialState::WrapUp,
        })
        .take_over(take_over);
    let target = connect(&agent)?;
    let id = target.id;
    let file = secrets::guid_path(&agent.guid_file, id)?;
    // Before the gateway holds a session whose Guid could not be kept.
    secrets::check_writable(&file)?;
    let handle = match target.client.sign_in(id, &request).await {
        Ok(handle) => handle,
        Err(Error::Gateway {
            code: RetCode::AlreadySignedIn,
            ..
        }) if !take_over && still_valid(&target, &agent).await => {
            print_result(
                &agent,
                &format!(
                    "agent {id} is already signed in from here: the Guid in {} is still valid (nothing changed)",
                    file.display()
                ),
                json!({"result": "already signed in", "guidFile": file}),
            );
            return Ok(());
        }
        Err(e) => return Err(target.fail(&e)),
    };
    let stored = match handle.guid() {
        Some(guid) => secrets::store_guid(&file, &guid, handle.affinity().as_ref()),
        None => Err(Failure::Other("the sign-in gave no Guid".into())),
    };
    if let Err(failure) = stored {
        // Nothing may stay signed in without its Guid: sign out again.
        return Err(match handle.sign_out().await {
            Ok(()) => Failure::Other(format!(
                "{}; agent {id} was signed out again",
                failure.message()
            )),
            Err(e) => Failure::Other(format!(
                "{}; agent {id} is still signed in and signing it out failed too ({e}): \
                 run `ccgw sign-in --agent {id} --take-over` once the Guid file can be written",
                failure.message()
            )),
        });
    }
    let how = if handle.took_over() {
        " (an existing session was taken over)"
    } else {
        ""
    };
    print_result(
        &agent,
        &format!(
            "agent {id} signed in{how}; its Guid is in {} (start `ccgw events` to keep the session alive)",
            file.display()
        ),
        json!({"result": "signed in", "tookOver": handle.took_over(), "guidFile": file}),
    );
    Ok(())
}

/// Whether the Guid file of `agent` holds a Guid the gateway still accepts (a state
/// read with it succeeds).
async fn still_valid(target: &Target, agent: &AgentArgs) -> bool {
    let Ok(source) = secrets::GuidSource::find(&agent.guid_file, target.id) else {
        return false;
    };
    let handle = target
        .client
        .agent(target.id, source.guid().clone(), source.affinity());
    handle.status().await.is_ok()
}

pub(crate) async fn sign_out(agent: AgentArgs) -> Result<(), Failure> {
    let (target, handle, source) = agent_handle(&agent)?;
    // An agent the gateway had already signed out counts as signed out (the library
    // settles `100-006` so).
    handle.sign_out().await.map_err(|e| target.fail(&e))?;
    // The Guid is worthless now.
    source.forget();
    print_result(
        &agent,
        &format!("agent {} signed out", handle.id()),
        json!({"result": "signed out"}),
    );
    Ok(())
}

/// A refused state change (`100-009`), explained by the agent's state as read now; a
/// `000-002` on a cause, by the tenant's causes.
async fn explain(
    target: &Target,
    handle: &Agent,
    error: Error,
    cause: Option<RestCause>,
) -> Failure {
    let id = target.id;
    match &error {
        Error::Gateway {
            code: RetCode::StateChangeRefused,
            ..
        } => {
            let state = handle.status().await.map(|s| s.state);
            let code = RetCode::StateChangeRefused.as_str();
            let hint = match (cause, state) {
                (Some(_), Ok(AgentState::Rest | AgentState::PreRest)) => Some(format!(
                    "agent {id} is already in rest ({code}): add --prolong to set its rest again"
                )),
                (None, Ok(state)) if !matches!(state, AgentState::Rest | AgentState::PreRest) => {
                    Some(format!(
                        "agent {id} is not in rest (it is {}; {code}): there is no rest to cancel",
                        state.name()
                    ))
                }
                _ => None,
            };
            match hint {
                Some(message) => Failure::Ccgw(error.disposition(), message),
                None => target.fail(&error),
            }
        }
        Error::Gateway {
            code: RetCode::InvalidParameter,
            ..
        } if cause.is_some_and(|c| c != RestCause::NONE) => {
            let cause = cause.unwrap_or(RestCause::NONE);
            let message = target.fail(&error).message().to_owned();
            Failure::Ccgw(
                error.disposition(),
                format!(
                    "{message}; is rest cause {cause} configured on the platform? Causes are \
                     configured per tenant (0, no cause, always works)"
                ),
            )
        }
        _ => target.fail(&error),
    }
}

pub(crate) async fn rest(
    agent: AgentArgs,
    duration: RestDuration,
    cause: RestCause,
    prolong: bool,
    confirm: bool,
    wait: u64,
) -> Result<(), Failure> {
    let (target, handle, mut source) = agent_handle(&agent)?;
    let id = handle.id();
    let wait = Duration::from_secs(wait);
    let mut change = handle.rest(duration, cause);
    if prolong {
        change = change.prolong();
    }
    let outcome = if confirm {
        change.confirmed(wait).await.map(Some)
    } else {
        change.await.map(|()| None)
    };
    source.save(&handle)?;
    let confirmed = match outcome {
        Ok(confirmed) => confirmed,
        Err(e) => return Err(explain(&target, &handle, e, Some(cause)).await),
    };
    let what = if prolong {
        "rest set again"
    } else {
        "rest requested"
    };
    let secs = duration.as_secs();
    let (text, by) = match confirmed {
        Some(by) => (
            format!(
                "agent {id}: {what} for {secs} s, cause {cause}; confirmed {}",
                confirmed_by(by, "AgentState_SetRest_Success", "rest")
            ),
            Some(by),
        ),
        None => (
            format!(
                "agent {id}: {what} for {secs} s, cause {cause}; it takes effect with AgentState_SetRest_Success"
            ),
            None,
        ),
    };
    let value = json!({"result": what, "seconds": secs, "cause": cause.get(), "confirmed": by.map(confirmed_how)});
    print_result(&agent, &text, value);
    Ok(())
}

pub(crate) async fn cancel_rest(agent: AgentArgs, confirm: bool, wait: u64) -> Result<(), Failure> {
    let (target, handle, mut source) = agent_handle(&agent)?;
    let outcome = if confirm {
        handle
            .cancel_rest()
            .confirmed(Duration::from_secs(wait))
            .await
            .map(Some)
    } else {
        handle.cancel_rest().await.map(|()| None)
    };
    source.save(&handle)?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return Err(explain(&target, &handle, e, None).await),
    };
    let text = match outcome {
        Some(by) => format!(
            "agent {}: rest cancelled; confirmed {}",
            handle.id(),
            confirmed_by(by, "AgentState_CancelRest_Success", "idle")
        ),
        None => format!("agent {}: rest cancelled", handle.id()),
    };
    let value = json!({"result": "rest cancelled", "confirmed": outcome.map(confirmed_how)});
    print_result(&agent, &text, value);
    Ok(())
}

pub(crate) async fn status(agent: AgentArgs) -> Result<(), Failure> {
    let (target, handle, mut source) = agent_handle(&agent)?;
    let outcome = handle.status().await;
    source.save(&handle)?;
    let status = outcome.map_err(|e| target.fail(&e))?;
    let (code, name) = (status.state.code(), status.state.name());
    let call = if status.in_call { ", in a call" } else { "" };
    print_result(
        &agent,
        &format!("agent {}: {name} ({code}){call}", handle.id()),
        json!({"agentState": code, "state": name, "inCall": status.in_call}),
    );
    Ok(())
}

pub(crate) async fn events(agent: AgentArgs, count: Option<u64>) -> Result<(), Failure> {
    let (target, handle, mut source) = agent_handle(&agent)?;
    // A mistake that no retry mends (an untrusted CA, no gateway there, a Guid it does
    // not take) ends the command at once, with the exit code a one-shot command has.
    let first = handle.status().await;
    source.save(&handle)?;
    first.map_err(|e| target.fail(&e))?;
    let mut events = handle.events();
    let mut seen = 0u64;
    // The Guid rotates on poll answers — this command's and those of other
    // commands for the same agent: keep the file and this process in step, so
    // that every command uses a Guid the gateway still accepts.
    let mut keep_file = tokio::time::interval(GUID_FILE_REFRESH);
    let outcome = loop {
        if count.is_some_and(|n| seen >= n) {
            break Ok(());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break Ok(()),
            _ = keep_file.tick() => source.sync(&handle)?,
            item = events.next() => match item {
                None => break Ok(()),
                Some(Err(e)) => break Err(e),
                Some(Ok(event)) => {
                    seen += 1;
                    print_event(handle.id(), &event, agent.json);
                    // Keep the newest Guid for the next command.
                    source.save(&handle)?;
                }
            },
        }
    };
    source.save(&handle)?;
    match outcome {
        // Signed out (by `ccgw sign-out`, a supervisor or the gateway): the stream's
        // normal end; the Guid is worthless.
        Err(Error::Gateway {
            code: RetCode::NotSignedIn,
            ..
        }) => {
            let code = RetCode::NotSignedIn.as_str();
            print_result(
                &agent,
                &format!("agent {}: signed out ({code}); no more events", handle.id()),
                json!({"result": "signed out", "retcode": code}),
            );
            source.forget();
            Ok(())
        }
        other => other.map_err(|e| target.fail(&e)),
    }
}

/// How a change was confirmed, for `--json`.
fn confirmed_how(by: ccgw::Confirmed) -> &'static str {
    match by {
        ccgw::Confirmed::ByState => "by state",
        _ => "by event",
    }
}
