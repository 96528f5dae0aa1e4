//! Reads started ahead of their need. A deploy reads each service it will update and each
//! family's latest revision whatever the lookups find; started together with the lookups, they
//! are answered while the lookups are, so the critical path is lookups → register → update
//! instead of up to five calls one after another. Each read is taken at most once, by the code
//! that would otherwise have made it (a read that failed is reported there, as before); one that
//! is never taken costs one read. At most `concurrency` of them are in flight at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::Failure;
use super::ecs::{self, Latest, NoService, Service};

type Pending<T> = Mutex<HashMap<String, JoinHandle<T>>>;

/// The reads under way, by what they read.
pub struct Ahead {
    permits: Arc<Semaphore>,
    services: Pending<Result<Service, NoService>>,
    latest: Pending<Result<Option<Latest>, Failure>>,
}

impl Ahead {
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            services: Mutex::default(),
            latest: Mutex::default(),
        }
    }

    /// Starts reading a service (`DescribeServices`), unless it is already being read.
    pub fn service(&self, client: &aws_sdk_ecs::Client, cluster: &str, service: &str) {
        let client = client.clone();
        let (cluster, service) = (cluster.to_owned(), service.to_owned());
        start(
            &self.services,
            &self.permits,
            service_key(&cluster, &service),
            async move { ecs::describe_service(&client, &cluster, &service).await },
        );
    }

    /// Starts reading a family's latest ACTIVE revision (`DescribeTaskDefinition`).
    pub fn latest(&self, client: &aws_sdk_ecs::Client, family: &str) {
        let client = client.clone();
        let owned = family.to_owned();
        start(&self.latest, &self.permits, family.to_owned(), async move {
            ecs::latest(&client, &owned).await
        });
    }

    /// The service's read, if one was started and not taken yet.
    pub async fn take_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Option<Result<Service, NoService>> {
        take(&self.services, &service_key(cluster, service)).await
    }

    /// The family's latest-revision read, if one was started and not taken yet.
    pub async fn take_latest(&self, family: &str) -> Option<Result<Option<Latest>, Failure>> {
        take(&self.latest, family).await
    }
}

fn service_key(cluster: &str, service: &str) -> String {
    format!("{cluster}\u{0}{service}")
}

fn start<T, F>(pending: &Pending<T>, permits: &Arc<Semaphore>, key: String, read: F)
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut pending = pending
        .lock()
        .expect("no read-ahead panics while holding the map");
    if pending.contains_key(&key) {
        return;
    }
    let permits = Arc::clone(permits);
    pending.insert(
        key,
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            read.await
        }),
    );
}

/// Waits for a started read; `None` when none was started (or it could not finish: the caller
/// then reads for itself).
async fn take<T>(pending: &Pending<T>, key: &str) -> Option<T> {
    let handle = pending
        .lock()
        .expect("no read-ahead panics while holding the map")
        .remove(key)?;
    handle.await.ok()
}
