//! What `ccgw check` sees of each exchange: the library's call spans (named after the
//! spec's operation, with the HTTP status, the return code and the time taken), caught
//! by a tracing layer as each span closes. The spans carry no secret.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// One exchange with the gateway.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// The spec's operationId.
    pub(crate) operation: &'static str,
    pub(crate) http_status: Option<u64>,
    pub(crate) retcode: Option<String>,
    pub(crate) elapsed: Option<Duration>,
    /// When the span closed.
    pub(crate) ended: Instant,
}

impl Visit for Call {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "http_status" => self.http_status = Some(value),
            "elapsed_ms" => self.elapsed = Some(Duration::from_millis(value)),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "retcode" {
            self.retcode = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "retcode" {
            self.retcode = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// The calls seen so far, shared with the layer.
#[derive(Clone, Default, Debug)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    /// Every call that ended so far, oldest first.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<S> tracing_subscriber::Layer<S> for Recorder
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        let Some(operation) = ccgw_client::operations::ALL
            .into_iter()
            .find(|op| op.log_name == name)
        else {
            return;
        };
        let mut call = Call {
            operation: operation.log_name,
            http_status: None,
            retcode: None,
            elapsed: None,
            ended: Instant::now(),
        };
        attrs.record(&mut call);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(call);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(call) = span.extensions_mut().get_mut::<Call>()
        {
            values.record(call);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(mut call) = span.extensions_mut().remove::<Call>()
        {
            call.ended = Instant::now();
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(call);
        }
    }
}
