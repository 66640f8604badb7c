//! `probe tcp "host:port"`: a TCP connect, bounded by the step's timeout.

use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use interpreter::world::Touches;
use lang::schema::Variant;

/// `probe tcp ADDRESS`.
pub struct Tcp;

impl StepKind for Tcp {
    fn variant(&self) -> &'static Variant {
        &super::TCP
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        _ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let address = input
                .target_str()
                .ok_or_else(|| StepError::fatal("`probe tcp` needs `host:port`"))?;
            if !address.contains(':') {
                return Err(StepError::fatal(format!(
                    "`{address}` has no port: write `host:port`"
                )));
            }
            let started = tokio::time::Instant::now();
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .map_err(|e| StepError::new(format!("connecting to {address} failed: {e}")))?;
            let latency = started.elapsed();
            drop(stream);
            let mut out = Outputs::new();
            out.insert(
                "latency".into(),
                Value::Duration(Duration::from_micros(latency.as_micros() as u64)),
            );
            Ok(out)
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            touches: Touches::reading(crate::touch::endpoint(view, None)),
            ..StepPlan::new(format!("connects to {} over TCP", view.target()))
        }
    }
}
