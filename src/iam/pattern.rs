//! IAM's patterns: the wildcards `*` and `?`, policy variables (`${aws:PrincipalTag/app}`,
//! `${*}`), and how each element compares: actions and `StringLike` as plain text, resources
//! segment by segment (a `*` crosses a `:` only as the last character of its segment), `ArnLike`
//! each of the six segments on its own.

use super::context::{Context, Known};

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Char(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    One,
}

/// A pattern with its policy variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Tokens(Vec<Token>),
    /// A variable whose key the request does not carry (and no default): AWS may then hold the
    /// whole statement invalid. Its key.
    Absent(String),
    /// A variable whose value is not known before the task starts: its key.
    Unknown(String),
}

/// How a policy's text is read.
#[derive(Debug, Clone, Copy)]
pub struct Syntax {
    /// `*` and `?` are wildcards (not in `StringEquals`).
    pub wildcards: bool,
    /// `${…}` is a policy variable (policies of version `2012-10-17` only).
    pub variables: bool,
}

/// `text` read as a pattern, its variables substituted from `context`.
pub fn parse(text: &str, syntax: Syntax, context: &Context) -> Pattern {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let end = (syntax.variables && c == '$' && chars.get(i + 1) == Some(&'{'))
            .then(|| chars[i + 2..].iter().position(|&c| c == '}'))
            .flatten();
        if let Some(end) = end {
            let inner: String = chars[i + 2..i + 2 + end].iter().collect();
            match variable(inner.trim(), context) {
                Ok(value) => tokens.extend(value.chars().map(Token::Char)),
                Err(pattern) => return pattern,
            }
            i += end + 3;
            continue;
        }
        tokens.push(match c {
            '*' if syntax.wildcards => Token::Star,
            '?' if syntax.wildcards => Token::One,
            c => Token::Char(c),
        });
        i += 1;
    }
    Pattern::Tokens(tokens)
}

/// The text a variable stands for, or why it stands for none.
fn variable(inner: &str, context: &Context) -> Result<String, Pattern> {
    if let "*" | "?" | "$" = inner {
        return Ok(inner.to_owned());
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => (key.trim(), quoted(default.trim())),
        None => (inner, None),
    };
    match context.get(key) {
        Some(Known::Values(values)) if values.len() == 1 => Ok(values[0].clone()),
        // Multi-valued keys cannot be substituted; an absent one takes the default.
        Some(Known::Values(_) | Known::Absent) => {
            default.ok_or_else(|| Pattern::Absent(key.to_owned()))
        }
        Some(Known::ArnIn(_)) | None => Err(Pattern::Unknown(key.to_owned())),
    }
}

/// `'text'` with `''` for a quote inside.
fn quoted(text: &str) -> Option<String> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// Whether `tokens` match all of `value`. `crosses(i)`: whether the `*` at `i` may match a `:`.
fn matches_with(tokens: &[Token], value: &[char], crosses: impl Fn(usize) -> bool) -> bool {
    let (n, m) = (tokens.len(), value.len());
    // ok[i][j]: tokens[i..] match value[j..]; filled from the end.
    let mut ok = vec![false; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    ok[at(n, m)] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            ok[at(i, j)] = match tokens[i] {
                Token::Star => {
                    ok[at(i + 1, j)]
                        || (j < m && (value[j] != ':' || crosses(i)) && ok[at(i, j + 1)])
                }
                Token::One => j < m && value[j] != ':' && ok[at(i + 1, j + 1)],
                Token::Char(c) => j < m && value[j] == c && ok[at(i + 1, j + 1)],
            };
        }
    }
    ok[at(0, 0)]
}

/// Plain wildcard matching over the whole text (actions, `StringLike`): `*` and `?` match any
/// character, `:` too.
pub fn text(tokens: &[Token], value: &str, ignore_case: bool) -> bool {
    let (tokens, value) = if ignore_case {
        (lowercase(tokens), value.to_lowercase())
    } else {
        (tokens.to_vec(), value.to_owned())
    };
    let value: Vec<char> = value.chars().collect();
    plain(&tokens, &value)
}

/// Wildcards where every character, `:` included, is an ordinary one.
fn plain(tokens: &[Token], value: &[char]) -> bool {
    let (n, m) = (tokens.len(), value.len());
    let mut ok = vec![false; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    ok[at(n, m)] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            ok[at(i, j)] = match tokens[i] {
                Token::Star => ok[at(i + 1, j)] || (j < m && ok[at(i, j + 1)]),
                Token::One => j < m && ok[at(i + 1, j + 1)],
                Token::Char(c) => j < m && value[j] == c && ok[at(i + 1, j + 1)],
            };
        }
    }
    ok[at(0, 0)]
}

fn lowercase(tokens: &[Token]) -> Vec<Token> {
    tokens
        .iter()
        .flat_map(|t| match t {
            Token::Char(c) => c.to_lowercase().map(Token::Char).collect::<Vec<_>>(),
            other => vec![*other],
        })
        .collect()
}

/// A `Resource` against an ARN, as IAM matches them: wildcards stay within the segments between
/// colons, except a `*` that ends its segment, which may reach across.
pub fn resource(tokens: &[Token], value: &str) -> bool {
    let value: Vec<char> = value.chars().collect();
    let crosses = |i: usize| matches!(tokens.get(i + 1), None | Some(Token::Char(':')));
    matches_with(tokens, &value, crosses)
}

/// The six segments of an ARN-like token list (the last keeps its colons), or `None` when it has
/// fewer.
fn segments(tokens: &[Token]) -> Option<Vec<&[Token]>> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        if *t == Token::Char(':') {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    (parts.len() == 5).then(|| {
        parts.push(&tokens[start..]);
        parts
    })
}

fn chars(text: &str) -> Vec<Token> {
    text.chars().map(Token::Char).collect()
}

/// `ArnLike` / `ArnEquals`: each of the six segments compared on its own.
pub fn arn(tokens: &[Token], value: &str) -> bool {
    let value = chars(value);
    match (segments(tokens), segments(&value)) {
        (Some(pattern), Some(value)) => pattern
            .iter()
            .zip(&value)
            .all(|(p, v)| plain(p, &to_chars(v))),
        _ => false,
    }
}

fn to_chars(tokens: &[Token]) -> Vec<char> {
    tokens
        .iter()
        .map(|t| match t {
            Token::Char(c) => *c,
            Token::Star => '*',
            Token::One => '?',
        })
        .collect()
}

/// A pattern against an ARN of which only the first five segments are known (`prefix`, ending
/// in `:`): `Some(true)` or `Some(false)` when those decide, `None` when the unknown resource
/// part would. `by_segment`: `ArnLike` (six segments, each on its own); otherwise plain text.
pub fn arn_in(tokens: &[Token], prefix: &str, ignore_case: bool, by_segment: bool) -> Option<bool> {
    let tokens = if ignore_case {
        lowercase(tokens)
    } else {
        tokens.to_vec()
    };
    let prefix = if ignore_case {
        prefix.to_lowercase()
    } else {
        prefix.to_owned()
    };
    if !by_segment {
        return text_prefix(&tokens, &prefix.chars().collect::<Vec<_>>());
    }
    let known = chars(&format!("{prefix}x"));
    let (Some(pattern), Some(known)) = (segments(&tokens), segments(&known)) else {
        // Fewer than six segments: how ARN operators read that is not settled here.
        return None;
    };
    let head = pattern[..5]
        .iter()
        .zip(&known[..5])
        .all(|(p, v)| plain(p, &to_chars(v)));
    if !head {
        return Some(false);
    }
    pattern[5].iter().all(|t| *t == Token::Star).then_some(true)
}

/// Plain wildcards against `prefix` followed by an unknown, non-empty rest: `Some(false)` when
/// no rest can match, `Some(true)` when every rest does, `None` otherwise.
fn text_prefix(tokens: &[Token], prefix: &[char]) -> Option<bool> {
    let mut could = false;
    // Split the pattern where its head has matched the whole prefix: its tail takes the rest.
    for i in 0..=tokens.len() {
        if !plain(&tokens[..i], prefix) {
            continue;
        }
        let tail = &tokens[i..];
        // A head that ends in a star may take any rest as well.
        let open = i > 0 && tokens[i - 1] == Token::Star;
        let tail_takes_all = !tail.is_empty() && tail.iter().all(|t| *t == Token::Star);
        if (open && tail.iter().all(|t| *t == Token::Star)) || tail_takes_all {
            return Some(true);
        }
        could |= open || !tail.is_empty();
    }
    if could { None } else { Some(false) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WILD: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    fn tokens(text: &str, context: &Context) -> Vec<Token> {
        match parse(text, WILD, context) {
            Pattern::Tokens(tokens) => tokens,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn res(pattern: &str, value: &str) -> bool {
        resource(&tokens(pattern, &Context::default()), value)
    }

    const PROD_DB: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";

    #[test]
    fn a_star_stays_in_its_segment_unless_it_ends_it() {
        assert!(res(
            "arn:aws:secretsmanager:*:123456789012:secret:prod/db-??????",
            PROD_DB
        ));
        assert!(res("arn:aws:secretsmanager:*:*:secret:prod/*", PROD_DB));
        assert!(res("*", PROD_DB));
        // `*2` is not the end of its segment: it cannot take `us-east-1:12345678901`.
        assert!(!res("arn:aws:secretsmanager:*2:secret:prod/*", PROD_DB));
        assert!(res(
            "arn:aws:secretsmanager:*2:123456789012:secret:prod/*",
            "arn:aws:secretsmanager:us-east-2:123456789012:secret:prod/db-AbCdEf"
        ));
        // A trailing `*` of a segment reaches across, as IAM documents.
        assert!(res("arn:aws:secretsmanager:*", PROD_DB));
        assert!(!res("arn:aws:secretsmanager:*:*:secret:prod/db", PROD_DB));
        // `?` is one character of a segment, never a colon.
        assert!(!res(
            "arn:aws:secretsmanager:us-east-1?123456789012:*",
            PROD_DB
        ));
    }

    #[test]
    fn actions_and_string_like_compare_as_plain_text() {
        let t = tokens("secretsmanager:Get*", &Context::default());
        assert!(text(&t, "secretsmanager:GetSecretValue", true));
        let t = tokens("SecretsManager:getsecretvalue", &Context::default());
        assert!(text(&t, "secretsmanager:GetSecretValue", true));
        assert!(!text(&t, "secretsmanager:GetSecretValue", false));
        let t = tokens("a*z", &Context::default());
        assert!(text(&t, "a:b:z", false));
    }

    #[test]
    fn variables_are_substituted_escaped_defaulted_or_left_unknown() {
        let mut context = Context::default();
        context.set("aws:PrincipalAccount", "123456789012");
        context.principal_tags([("app".to_owned(), "web".to_owned())]);
        let t = tokens(
            "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:${aws:PrincipalTag/App}/*",
            &context,
        );
        assert!(resource(
            &t,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf"
        ));
        assert!(!resource(
            &t,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-AbCdEf"
        ));
        // `${*}` is a literal star.
        let t = tokens("a${*}", &context);
        assert!(resource(&t, "a*"));
        assert!(!resource(&t, "ab"));
        // A tag the role does not have: the default, or nothing matches.
        assert_eq!(
            parse("x/${aws:PrincipalTag/team}", WILD, &context),
            Pattern::Absent("aws:PrincipalTag/team".to_owned())
        );
        let t = tokens("x/${aws:PrincipalTag/team, 'shared'}", &context);
        assert!(resource(&t, "x/shared"));
        // A key whose value is not known before the task starts.
        assert_eq!(
            parse("x/${aws:SourceVpce}", WILD, &context),
            Pattern::Unknown("aws:SourceVpce".to_owned())
        );
        // Without variables (an old policy version), `${` is text.
        let old = Syntax {
            wildcards: true,
            variables: false,
        };
        assert!(
            matches!(parse("${aws:PrincipalAccount}", old, &context), Pattern::Tokens(t) if t.len() == 23)
        );
    }

    #[test]
    fn arn_like_compares_six_segments_and_knows_a_partly_known_arn() {
        let context = Context::default();
        let t = tokens("arn:aws:ecs:us-east-1:123456789012:*", &context);
        assert!(arn(&t, "arn:aws:ecs:us-east-1:123456789012:task/c/abc"));
        assert!(!arn(&t, "arn:aws:ecs:us-east-2:123456789012:task/c/abc"));
        let prefix = "arn:aws:ecs:us-east-1:123456789012:";
        assert_eq!(arn_in(&t, prefix, false, true), Some(true));
        let other = tokens("arn:aws:ecs:*:999999999999:*", &context);
        assert_eq!(arn_in(&other, prefix, false, true), Some(false));
        let narrow = tokens("arn:aws:ecs:us-east-1:123456789012:cluster/prod", &context);
        assert_eq!(arn_in(&narrow, prefix, false, true), None);
        let short = tokens("arn:aws:ecs:*", &context);
        assert_eq!(arn_in(&short, prefix, false, true), None);
        // As text (`StringLike`), a star reaches across colons.
        assert_eq!(arn_in(&short, prefix, false, false), Some(true));
        assert_eq!(
            arn_in(&tokens("*", &context), prefix, false, false),
            Some(true)
        );
        let literal = Syntax {
            wildcards: false,
            variables: false,
        };
        let Pattern::Tokens(exact) = parse(prefix, literal, &context) else {
            unreachable!()
        };
        assert_eq!(
            arn_in(&exact, prefix, false, false),
            Some(false),
            "the rest is never empty"
        );
        assert_eq!(arn_in(&narrow, prefix, false, false), None);
        assert_eq!(
            arn_in(
                &tokens("arn:aws:ecs:eu-west-1:*", &context),
                prefix,
                false,
                false
            ),
            Some(false)
        );
    }
}
