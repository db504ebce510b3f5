//! How a started run is carried to completion: by the state machine in AWS, or within
//! the request where there is none (locally).

use serde_json::json;
use uuid::Uuid;

use super::StateMachineConfig;
use crate::model::TenantId;

/// With a state machine configured, Step Functions runs the worker until the run is
/// done; without one (local development only: see [`super::Needs`]), the request
/// itself costs for as long as it may (`COGS_INLINE_RUN_MS`).
pub enum RunDispatch {
    Inline,
    StepFunctions { client: aws_sdk_sfn::Client, state_machine_arn: String },
}

impl RunDispatch {
    pub async fn from_config(state_machine: Option<&StateMachineConfig>) -> Self {
        match state_machine {
            Some(machine) => {
                let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let mut config = aws_sdk_sfn::config::Builder::from(&shared);
                if let Some(endpoint) = &machine.endpoint {
                    config = config.endpoint_url(endpoint);
                }
                RunDispatch::StepFunctions {
                    client: aws_sdk_sfn::Client::from_conf(config.build()),
                    state_machine_arn: machine.arn.clone(),
                }
            }
            None => RunDispatch::Inline,
        }
    }

    /// Starts the state machine for a run. The execution is named after the run, so a
    /// retried request cannot start a second one.
    pub async fn start(&self, tenant_id: &TenantId, run_id: Uuid) -> Result<Option<String>, String> {
        let RunDispatch::StepFunctions { client, state_machine_arn } = self else { return Ok(None) };
        let input = json!({ "tenant_id": tenant_id, "run_id": run_id }).to_string();
        let output = client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(format!("run-{run_id}"))
            .input(input)
            .send()
            .await
            .map_err(|e| {
                format!("starting the run's state machine: {}", aws_sdk_sfn::error::DisplayErrorContext(&e))
            })?;
        Ok(Some(output.execution_arn))
    }
}
