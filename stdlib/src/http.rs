//! `http request`: an HTTP call that changes something (an API's POST, PUT, PATCH or
//! DELETE). The same client as `probe http` (timeouts, capped body, TLS settings,
//! redacted errors), but planned and run as a mutating step: a dry-run and `ops plan
//! --preflight` record it and never send it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;
use interpreter::world::{Touches, Write};
use lang::schema::{Attribute, Effect, SchemaType as T, StepSchema, Variant};

use crate::probe::{HTTP_OUTPUTS, HTTP_SUBJECTS, HTTP_URL, REQUEST_METHODS, http_attributes};

/// The `http` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "http",
    doc: "HTTP calls that change something (API requests)",
    variants: &[&REQUEST],
};

/// `http request`.
pub static REQUEST: Variant = Variant {
    name: Some("request"),
    doc: "an HTTP request that changes something (POST, PUT, PATCH, DELETE, or any method): planned as a change, never sent by a dry-run; outputs and expectations as `probe http`",
    target: Some(HTTP_URL),
    attributes: http_attributes!(
        Attribute::new("method", T::Enum(REQUEST_METHODS), "HTTP method").required(),
        "false"
    ),
    outputs: HTTP_OUTPUTS,
    subjects: HTTP_SUBJECTS,
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(30)),
    ..Variant::BASE
};

/// `http request URL { method = ... }`.
pub struct Request;

impl StepKind for Request {
    fn variant(&self) -> &'static Variant {
        &REQUEST
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(crate::probe::http::request(input, &ctx.secrets))
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        let problems = crate::probe::http::ca_file_problems(view);
        let method = view.attr("method").trim_matches('"');
        let url = match view.target_value.as_ref().and_then(Value::as_str) {
            Some(url) => crate::probe::http::strip_credentials(url),
            None => view.target().to_string(),
        };
        let body = match (view.rendered("json"), view.rendered("body")) {
            (Some(json), _) => format!(" with the JSON body {}", short(json)),
            (None, Some(body)) => format!(" with the body {}", short(body)),
            (None, None) => String::new(),
        };
        // It changes what the origin serves; it reads the endpoint it connects to.
        let mut resources = crate::touch::http(view, None);
        let endpoint: Vec<_> = resources.iter().skip(1).cloned().collect();
        resources.truncate(1);
        StepPlan {
            touches: Touches {
                reads: endpoint,
                writes: resources
                    .into_iter()
                    .map(|resource| Write {
                        resource,
                        state: Value::Null,
                    })
                    .collect(),
                opaque: false,
            },
            ..StepPlan::new(format!("sends {method} {url}{body}")).with_problems(problems)
        }
    }

    fn subject(
        &self,
        outputs: &Outputs,
        subject: &str,
        arg: Option<&Value>,
    ) -> Result<Value, String> {
        crate::probe::http::subject(outputs, subject, arg)
    }
}

/// A rendered body as a plan line shows it: at most 200 characters.
fn short(text: &str) -> String {
    interpreter::text::quote(text, 200).into_owned()
}
