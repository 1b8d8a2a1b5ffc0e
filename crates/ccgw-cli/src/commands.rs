//! What each command does, once its arguments are read.

use std::path::PathBuf;
use std::time::Duration;

use ccgw::{InitialState, RestCause, RestDuration, SignIn};

use crate::failure::Failure;
use crate::{
    AgentArgs, GUID_FILE_REFRESH, StartState, agent_handle, confirmed_by, connect, print_event,
    secrets,
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
    let (client, id) = connect(&agent)?;
    let file = secrets::guid_path(&agent.guid_file, id)?;
    // Before the gateway holds a session whose Guid could not be kept.
    secrets::check_writable(&file)?;
    let handle = client
        .sign_in(id, &request)
        .await
        .map_err(|e| Failure::from_ccgw(&e, id))?;
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
    say!(
        "agent {id} signed in{how}; its Guid is in {} (start `ccgw events` to keep the session alive)",
        file.display()
    );
    Ok(())
}

pub(crate) async fn sign_out(agent: AgentArgs) -> Result<(), Failure> {
    let (handle, source) = agent_handle(&agent)?;
    handle
        .sign_out()
        .await
        .map_err(|e| Failure::from_ccgw(&e, handle.id()))?;
    source.forget();
    say!("agent {} signed out", handle.id());
    Ok(())
}

pub(crate) async fn rest(
    agent: AgentArgs,
    duration: u64,
    cause: u32,
    prolong: bool,
    confirm: bool,
    wait: u64,
) -> Result<(), Failure> {
    let duration = RestDuration::try_from(duration).map_err(|e| Failure::Input(e.to_string()))?;
    let cause = RestCause::try_from(cause).map_err(|e| Failure::Input(e.to_string()))?;
    let (handle, mut source) = agent_handle(&agent)?;
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
    let confirmed = outcome.map_err(|e| Failure::from_ccgw(&e, id))?;
    let what = if prolong {
        "rest set again"
    } else {
        "rest requested"
    };
    match confirmed {
        Some(by) => say!(
            "agent {id}: {what} for {} s, cause {}; confirmed {}",
            duration.as_secs(),
            cause,
            confirmed_by(by, "AgentState_SetRest_Success", "rest")
        ),
        None => say!(
            "agent {id}: {what} for {} s, cause {}; it takes effect with AgentState_SetRest_Success",
            duration.as_secs(),
            cause
        ),
    }
    Ok(())
}

pub(crate) async fn cancel_rest(agent: AgentArgs, confirm: bool, wait: u64) -> Result<(), Failure> {
    let (handle, mut source) = agent_handle(&agent)?;
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
    match outcome.map_err(|e| Failure::from_ccgw(&e, handle.id()))? {
        Some(by) => say!(
            "agent {}: rest cancelled; confirmed {}",
            handle.id(),
            confirmed_by(by, "AgentState_CancelRest_Success", "idle")
        ),
        None => say!("agent {}: rest cancelled", handle.id()),
    }
    Ok(())
}

pub(crate) async fn status(agent: AgentArgs, json: bool) -> Result<(), Failure> {
    let (handle, mut source) = agent_handle(&agent)?;
    let outcome = handle.status().await;
    source.save(&handle)?;
    let status = outcome.map_err(|e| Failure::from_ccgw(&e, handle.id()))?;
    let (code, name) = (status.state.code(), status.state.name());
    if json {
        say!(
            "{}",
            serde_json::json!({"agent": handle.id().get(), "agentState": code, "state": name, "inCall": status.in_call})
        );
    } else {
        let call = if status.in_call { ", in a call" } else { "" };
        say!("agent {}: {name} ({code}){call}", handle.id());
    }
    Ok(())
}

pub(crate) async fn events(
    agent: AgentArgs,
    json: bool,
    count: Option<u64>,
) -> Result<(), Failure> {
    let (handle, mut source) = agent_handle(&agent)?;
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
                    print_event(handle.id(), &event, json);
                    // Keep the newest Guid for the next command.
                    source.save(&handle)?;
                }
            },
        }
    };
    source.save(&handle)?;
    outcome.map_err(|e| Failure::from_ccgw(&e, handle.id()))
}
