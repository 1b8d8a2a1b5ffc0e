//! Signing in: the parameters, the fallback gateways, taking a session over.

use std::fmt;
use std::future::Future;

use ccgw_client::types;
use zeroize::Zeroizing;

use ccgw_client::operations::{self, Operation};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::agent::Agent;
use crate::call::op_span;
use crate::client::GatewayClient;
use crate::error::{Error, ErrorChain, RetCode};
use crate::values::{AgentId, InvalidValue};

/// The agent's state right after sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    /// 3: busy.
    Busy,
    /// 4: idle (the default).
    #[default]
    Idle,
    /// 5: wrap-up.
    WrapUp,
}

/// Sign-in parameters (the gateway's sign-in body) and the policy for an agent that is
/// already signed in. The password and the phone number are required (the gateway
/// refuses a sign-in without a phone number with `100-001`); every other field has the
/// gateway's default.
///
/// ```
/// use ccgw::{InitialState, SignIn};
/// let sign_in = SignIn::new("secret", "40038")
///     .initial_state(InitialState::Busy)
///     .take_over(true);
/// assert!(!format!("{sign_in:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct SignIn {
    password: Zeroizing<String>,
    phone: String,
    initial_state: InitialState,
    auto_answer: bool,
    auto_enter_idle: bool,
    release_phone: bool,
    video: bool,
    ip: Option<String>,
    phone_linkage: bool,
    check_in_webm: bool,
    check_in_mailm: bool,
    pub(crate) take_over: bool,
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("password", &"<redacted>")
            .field("phone", &self.phone)
            .field("initial_state", &self.initial_state)
            .field("take_over", &self.take_over)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Sign in with `password` (at most 32 characters; may be empty) at the phone number
    /// `phone` the agent works with (1 to 24 characters).
    pub fn new(password: impl Into<String>, phone: impl Into<String>) -> Self {
        Self {
            password: Zeroizing::new(password.into()),
            phone: phone.into(),
            initial_state: InitialState::Idle,
            auto_answer: true,
            auto_enter_idle: true,
            release_phone: true,
            video: false,
            ip: None,
            phone_linkage: false,
            check_in_webm: true,
            check_in_mailm: false,
            take_over: false,
        }
    }

    /// Whether to take the session over when the agent is already signed in (`100-002`):
    /// with `true`, a forced sign-in (`forceLogin`) follows, and the previous holder's
    /// Guid stops working at once — what recovers a session whose Guid this client lost.
    /// With `false` (the default), the sign-in fails with `100-002`: someone else may be
    /// working as this agent. [`Agent::took_over`](crate::Agent::took_over) says which
    /// happened. Refused with `100-015` where the platform does not allow it.
    #[must_use]
    pub fn take_over(mut self, take_over: bool) -> Self {
        self.take_over = take_over;
        self
    }

    /// The state after sign-in (default idle).
    #[must_use]
    pub fn initial_state(mut self, state: InitialState) -> Self {
        self.initial_state = state;
        self
    }

    /// Answer calls automatically (default `true`).
    #[must_use]
    pub fn auto_answer(mut self, on: bool) -> Self {
        self.auto_answer = on;
        self
    }

    /// Become idle automatically after a call (default `true`).
    #[must_use]
    pub fn auto_enter_idle(mut self, on: bool) -> Self {
        self.auto_enter_idle = on;
        self
    }

    /// Hang the phone up after each call (default `true`).
    #[must_use]
    pub fn release_phone(mut self, on: bool) -> Self {
        self.release_phone = on;
        self
    }

    /// A PC and phone *video* agent (agent type 11) instead of type 4.
    #[must_use]
    pub fn video(mut self, on: bool) -> Self {
        self.video = on;
        self
    }

    /// The agent's IPv4 address (at most 15 characters).
    #[must_use]
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    /// Phone linkage with a hard phone (default `false`).
    #[must_use]
    pub fn phone_linkage(mut self, on: bool) -> Self {
        self.phone_linkage = on;
        self
    }

    /// Also sign in to the text-chat server (default `true`) and the mail server
    /// (default `false`).
    #[must_use]
    pub fn check_in(mut self, webm: bool, mailm: bool) -> Self {
        self.check_in_webm = webm;
        self.check_in_mailm = mailm;
        self
    }

    pub(crate) fn to_generated(&self) -> Result<types::LoginRequest, InvalidValue> {
        let checked = |field: &'static str, value: &str, max: usize| {
            if value.chars().count() > max {
                Err(InvalidValue::too_long(field, max))
            } else {
                Ok(())
            }
        };
        checked("password", &self.password, 32)?;
        // From one wiping buffer into another; only the request body holds it in clear.
        let password = ccgw_client::Password::new(self.password.clone());
        if self.phone.is_empty() {
            return Err(InvalidValue::empty("phone number"));
        }
        checked("phone number", &self.phone, 24)?;
        let phonenum = types::LoginRequestPhonenum::try_from(self.phone.as_str())
            .map_err(|_| InvalidValue::too_long("phone number", 24))?;
        let ip = match &self.ip {
            Some(ip) => {
                checked("IP address", ip, 15)?;
                Some(
                    types::LoginRequestIp::try_from(ip.as_str())
                        .map_err(|_| InvalidValue::too_long("IP address", 15))?,
                )
            }
            None => None,
        };
        let status = match self.initial_state {
            InitialState::Busy => 3,
            InitialState::Idle => 4,
            InitialState::WrapUp => 5,
        };
        Ok(types::LoginRequest {
            agenttype: types::LoginRequestAgenttype::try_from(if self.video { 11 } else { 4 })
                .map_err(|_| InvalidValue::too_long("agent type", 2))?,
            autoanswer: self.auto_answer,
            autoenteridle: self.auto_enter_idle,
            call_back_uri: None,
            check_in_mailm: self.check_in_mailm,
            check_in_webm: self.check_in_webm,
            entry_ip: None,
            ip,
            password,
            phonelinkage: self.phone_linkage,
            phonenum,
            releasephone: self.release_phone,
            service_token: None,
            status: types::LoginRequestStatus::try_from(status)
                .map_err(|_| InvalidValue::too_long("status", 1))?,
        })
    }
}

impl GatewayClient {
    /// Signs agent `id` in and returns its handle, holding the Guid from the answer's
    /// `Set-GUID` header. When the agent is already signed in (`100-002`),
    /// [`SignIn::take_over`] decides: fail (the default) or take the session over
    /// ([`Agent::took_over`] then says so). Each gateway of the client (the URL, then the
    /// fallbacks) is tried in order until one takes the sign-in.
    ///
    /// Start polling events right away ([`Agent::events`]) or send heartbeats: the
    /// gateway signs out an agent that does neither for 2 minutes.
    pub async fn sign_in(&self, id: AgentId, request: &SignIn) -> Result<Agent, Error> {
        self.on_first_taker(id, |agent| async move {
            match agent.open_session(operations::LOGIN, request).await {
                Ok(()) => Ok(agent),
                Err(e) if e.retcode() == Some(&RetCode::AlreadySignedIn) && request.take_over => {
                    tracing::info!(
                        agent_id = id.get(),
                        "already signed in; taking the session over"
                    );
                    agent.open_session(operations::FORCE_LOGIN, request).await?;
                    Ok(agent.taken_over())
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Forced sign-in (`forceLogin`) at once, without trying a plain one first.
    pub(crate) async fn force_sign_in(
        &self,
        id: AgentId,
        request: &SignIn,
    ) -> Result<Agent, Error> {
        self.on_first_taker(id, |agent| async move {
            agent.open_session(operations::FORCE_LOGIN, request).await?;
            Ok(agent.taken_over())
        })
        .await
    }

    /// Runs a sign-in on each gateway in order until one takes it (see
    /// [`Config::fallback_urls`](crate::Config::fallback_urls)).
    async fn on_first_taker<F, Fut>(&self, id: AgentId, sign_in: F) -> Result<Agent, Error>
    where
        F: Fn(Agent) -> Fut,
        Fut: Future<Output = Result<Agent, Error>>,
    {
        let last = self.inner.gateways.len().saturating_sub(1);
        let mut gateway = 0;
        // A turn among `set_up_concurrency`; the semaphore is never closed.
        let _turn = self.inner.sign_ins.acquire().await;
        loop {
            match sign_in(Agent::new(self.clone(), id, gateway)).await {
                Err(e) if gateway < last && not_taken(&e) => {
                    tracing::info!(agent_id = id.get(), gateway, error = %ErrorChain(&e), "the gateway did not take the sign-in; trying the next one");
                    gateway += 1;
                }
                done => return done,
            }
        }
    }
}

/// The gateway did not take the request: nothing reached it, or it is switching over.
fn not_taken(e: &Error) -> bool {
    e.disposition() == crate::Disposition::Resend || e.retcode() == Some(&RetCode::SwitchingOver)
}

impl Agent {
    /// `login` or `forceLogin`: the session's Guid comes from the answer's `Set-GUID`.
    pub(crate) async fn open_session(
        &self,
        operation: Operation,
        request: &SignIn,
    ) -> Result<(), Error> {
        let body = request.to_generated()?;
        self.line.remember_secret(&request.password);
        let forced = operation == operations::FORCE_LOGIN;
        // Span names are constants: one per operation.
        let span = if forced {
            op_span!(info_span, operations::FORCE_LOGIN, self.line.id.get())
        } else {
            op_span!(info_span, operations::LOGIN, self.line.id.get())
        };
        self.line
            .exchange(operation, || async {
                if forced {
                    self.line.api.force_login(self.line.wire_id(), &body).await
                } else {
                    self.line.api.login(self.line.wire_id(), &body).await
                }
            })
            .instrument(span)
            .await?;
        if !self.line.session.has_guid() {
            return Err(Error::MalformedResponse {
                reason: format!(
                    "{} succeeded without a usable Set-GUID header",
                    operation.log_name
                ),
                body_excerpt: String::new(),
                source: None,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_settings_but_not_the_password() {
        let shown = format!("{:?}", SignIn::new("SENTINEL-PW", "40038"));
        assert!(shown.starts_with("SignIn {"), "{shown}");
        assert!(shown.contains(r#"password: "<redacted>""#), "{shown}");
        assert!(shown.contains(r#"phone: "40038""#), "{shown}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
    }

    /// The documented maxima (password 32, phone number 24 characters) are allowed, one
    /// more is refused before anything is sent.
    #[test]
    fn lengths_up_to_the_maximum() {
        assert!(SignIn::new("p".repeat(32), "40101").to_generated().is_ok());
        let long = SignIn::new("p".repeat(33), "40101")
            .to_generated()
            .map_err(Error::from)
            .expect_err("too long");
        assert!(long.to_string().contains("password"), "{long}");
        assert!(SignIn::new("pw", "4".repeat(24)).to_generated().is_ok());
        let long = SignIn::new("pw", "4".repeat(25))
            .to_generated()
            .map_err(Error::from)
            .expect_err("too long");
        assert!(long.to_string().contains("phone number"), "{long}");
        // The phone number is mandatory: an empty one is refused before sending.
        let empty = SignIn::new("pw", "")
            .to_generated()
            .map_err(Error::from)
            .expect_err("empty");
        assert_eq!(
            empty.to_string(),
            "invalid phone number (empty): must not be empty"
        );
    }
}
