//! Why a deployment failed, in the words of the AWS troubleshooting guidance: known failure texts
//! of stopped tasks and service events mapped to a cause and a fix.

/// A cause and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub cause: String,
    pub fix: String,
}

/// Explains one failure text (a task's `stoppedReason`, a container's `reason`, or a service
/// event), given the task execution role of the definition.
pub fn explain(text: &str, execution_role: Option<&str>) -> Option<Diagnosis> {
    let lower = text.to_ascii_lowercase();
    let role = execution_role.map_or_else(
        || "the task execution role (the definition names none: add `executionRoleArn`)".to_owned(),
        |arn| format!("the task execution role `{}`", role_name(arn)),
    );
    if lower.contains("unable to pull secrets")
        || lower.contains("unable to retrieve secret")
        || lower.contains("fetch secret")
        || (lower.contains("resourceinitializationerror") && lower.contains("secret"))
    {
        return Some(secrets(text, &lower, &role));
    }
    if lower.contains("cannotpullcontainererror") || lower.contains("pull image") {
        let route = network_trouble(&lower);
        return Some(Diagnosis {
            cause: if route {
                "the task could not reach the image registry".to_owned()
            } else {
                "the image could not be pulled: it does not exist, or the registry refused"
                    .to_owned()
            },
            fix: if route {
                "give the task's subnets a route to the registry: a NAT gateway, a public IP, or VPC endpoints for ECR (`ecr.api`, `ecr.dkr`) and S3".to_owned()
            } else {
                format!(
                    "check the image name and tag; for ECR, allow {role} `ecr:GetAuthorizationToken`, `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer`"
                )
            },
        });
    }
    if lower.contains("health check") {
        return Some(Diagnosis {
            cause: "the new tasks failed their health checks".to_owned(),
            fix: "check the container's health check command or the load balancer target group's path, port and grace period, and the application's logs".to_owned(),
        });
    }
    if lower.contains("unable to place")
        || lower.contains("no container instance met")
        || lower.contains("insufficient")
    {
        return Some(Diagnosis {
            cause: "ECS could not place the tasks: no capacity meets their CPU, memory, port or placement needs".to_owned(),
            fix: "add capacity (instances or a capacity provider), lower the task's `cpu`/`memory`, or relax placement constraints".to_owned(),
        });
    }
    if lower.contains("essential container in task exited") || lower.contains("exit code") {
        return Some(Diagnosis {
            cause: "an essential container exited".to_owned(),
            fix: "read the container's exit code and its logs (`logConfiguration`); a missing environment variable or secret often shows there first".to_owned(),
        });
    }
    None
}

fn secrets(text: &str, lower: &str, role: &str) -> Diagnosis {
    let arn = arns(text)
        .into_iter()
        .find(|a| a.contains(":secretsmanager:") || a.contains(":ssm:") || a.contains(":kms:"));
    let what = arn
        .as_deref()
        .map_or_else(|| "a secret".to_owned(), |a| format!("`{a}`"));
    if network_trouble(lower) {
        return Diagnosis {
            cause: format!("the task could not reach the service that holds {what}"),
            fix: "give the task's subnets a route to Secrets Manager / Systems Manager: a NAT gateway, or VPC endpoints for `secretsmanager` and `ssm` (and `kms`)".to_owned(),
        };
    }
    if lower.contains("resourcenotfound")
        || lower.contains("parameternotfound")
        || lower.contains("not found")
    {
        return Diagnosis {
            cause: format!("{what} does not exist where the task looks for it"),
            fix: "check the ARN in `valueFrom` (a full secret ARN ends in a 6-character suffix) and that the secret or parameter is in the task's Region".to_owned(),
        };
    }
    let action = if lower.contains("kms") {
        "kms:Decrypt"
    } else if arn.as_deref().is_some_and(|a| a.contains(":ssm:")) || lower.contains("ssm") {
        "ssm:GetParameters"
    } else {
        "secretsmanager:GetSecretValue"
    };
    Diagnosis {
        cause: format!("{role} may not read {what}"),
        fix: format!(
            "allow `{action}` on {} in a policy attached to {role} (not the task role); if the ARN or Region is wrong, fix `valueFrom` instead",
            arn.as_deref()
                .map_or_else(|| "the secret's ARN".to_owned(), |a| format!("`{a}`"))
        ),
    }
}

fn network_trouble(lower: &str) -> bool {
    [
        "i/o timeout",
        "context deadline exceeded",
        "dial tcp",
        "connection timed out",
        "no route",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// The ARNs in a text, trailing punctuation removed.
fn arns(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
        .filter(|word| word.starts_with("arn:aws"))
        .map(|word| word.trim_end_matches(['.', ')', ';']).to_owned())
        .collect()
}

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: Option<&str> = Some("arn:aws:iam::123456789012:role/web-execution");

    #[test]
    fn access_denied_on_a_secret_names_role_action_and_arn() {
        let reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf from secrets manager: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/web-execution/abc is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf because no identity-based policy allows the secretsmanager:GetSecretValue action";
        let d = explain(reason, EXEC).unwrap();
        assert!(d.cause.contains("`web-execution`"), "{d:?}");
        assert!(d.fix.contains("`secretsmanager:GetSecretValue` on `arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf`"), "{d:?}");
    }

    #[test]
    fn timeouts_point_at_the_network() {
        let reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): RequestError: send request failed caused by: Post \"https://ssm.us-east-1.amazonaws.com/\": dial tcp 10.0.0.1:443: i/o timeout";
        let d = explain(reason, EXEC).unwrap();
        assert!(d.fix.contains("VPC endpoints"), "{d:?}");
    }

    #[test]
    fn other_known_failures_are_explained() {
        assert!(
            explain(
                "CannotPullContainerError: pull image manifest has been retried",
                EXEC
            )
            .unwrap()
            .cause
            .contains("image")
        );
        assert!(
            explain("Task failed ELB health checks in (target-group x)", EXEC)
                .unwrap()
                .cause
                .contains("health")
        );
        assert!(explain("(service web) was unable to place a task because no container instance met all of its requirements.", None).unwrap().cause.contains("capacity"));
        assert!(
            explain("Essential container in task exited", None)
                .unwrap()
                .cause
                .contains("exited")
        );
        assert_eq!(
            explain("Scaling activity initiated by deployment", None),
            None
        );
    }
}
