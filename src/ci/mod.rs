//! What differs between CI platforms: how a secret is registered with the platform's own log
//! masking, and where results go besides stdout.

pub mod github;
