//! IAM's policy simulator, scripted: moto does not implement `SimulatePrincipalPolicy`, so the
//! stub answers it from a table of decisions and passes every other IAM call to moto.

use super::stub::{Answer, Stub};

/// A stub whose simulator answers `decisions` (action → `allowed`, `explicitDeny`,
/// `implicitDeny`, or `outsideBoundary` for a boundary that says no).
pub fn simulator(moto_port: u16, decisions: &'static [(&'static str, &'static str)]) -> Stub {
    Stub::start(moto_port, move |request| {
        if request.operation != "SimulatePrincipalPolicy" {
            return Answer::Forward;
        }
        let action = request.form("ActionNames.member.1");
        let resource = request.form("ResourceArns.member.1");
        let decision = decisions
            .iter()
            .find(|(a, _)| *a == action)
            .map_or("implicitDeny", |(_, d)| *d);
        // `outsideBoundary`: what IAM answers when only the permissions boundary says no.
        let (decision, boundary) = match decision {
            "outsideBoundary" => (
                "implicitDeny",
                "<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>false</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>",
            ),
            other => (other, ""),
        };
        Answer::xml(format!(
            r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><EvalActionName>{action}</EvalActionName><EvalResourceName>{resource}</EvalResourceName><EvalDecision>{decision}</EvalDecision>{boundary}<MatchedStatements><member><SourcePolicyId>simulated-policy</SourcePolicyId></member></MatchedStatements><MissingContextValues/></member></EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"#
        ))
    })
}

/// A stub that answers `GetRole` for `role` with the trust policy `trust` (a JSON document moto
/// would refuse, such as one written with `NotAction`) and passes every other IAM call to moto.
pub fn trust_policy(moto_port: u16, role: &'static str, trust: String) -> Stub {
    Stub::start(moto_port, move |request| {
        if request.operation != "GetRole" || request.form("RoleName") != role {
            return Answer::Forward;
        }
        let document: String =
            percent_encoding::utf8_percent_encode(&trust, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        Answer::xml(format!(
            r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><Arn>arn:aws:iam::123456789012:role/{role}</Arn><RoleName>{role}</RoleName><AssumeRolePolicyDocument>{document}</AssumeRolePolicyDocument><CreateDate>2026-01-01T00:00:00Z</CreateDate><RoleId>AROAEXAMPLEEXAMPLE001</RoleId></Role></GetRoleResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></GetRoleResponse>"#
        ))
    })
}
