//! Pipelines on Redis Cluster. The cluster client refuses a pipeline whose
//! commands fall in more than one hash slot (even slots of one node), and
//! the slate's reads span every candidate expert, each in a slot of its own.
//! Here such a pipeline is split by the node that serves each command's
//! slot, as `CLUSTER SLOTS` last said: one pipeline per node, sent
//! concurrently, replies put back in order. A command a node redirects
//! (MOVED or ASK: a slot moved, a replica promoted) is sent again on its
//! own, which the client routes and redirects itself, and the slot map is
//! read again before the next pipeline.
use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{get_slot, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisResult, Value};
use std::collections::HashMap;
use std::sync::RwLock;

/// Which node serves each hash slot.
#[derive(Default, Debug)]
pub struct SlotMap {
    ranges: RwLock<Option<Vec<SlotRange>>>,
}

/// Slots `first..=last`, served by the master at `host:port`.
#[derive(Debug)]
struct SlotRange {
    first: u16,
    last: u16,
    host: String,
    port: u16,
}

impl SlotMap {
    fn node_of(&self, slot: u16) -> Option<(String, u16)> {
        let ranges = self.ranges.read().ok()?;
        ranges
            .as_ref()?
            .iter()
            .find(|r| (r.first..=r.last).contains(&slot))
            .map(|r| (r.host.clone(), r.port))
    }

    fn is_known(&self) -> bool {
        self.ranges.read().is_ok_and(|r| r.is_some())
    }

    fn forget(&self) {
        if let Ok(mut r) = self.ranges.write() {
            *r = None;
        }
    }

    async fn read(&self, c: &mut ClusterConnection) -> RedisResult<()> {
        let reply: Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(c).await?;
        let mut ranges = Vec::new();
        if let Value::Array(entries) = reply {
            for entry in entries {
                let Value::Array(fields) = entry else {
                    continue;
                };
                let (Some(first), Some(last), Some(Value::Array(master))) =
                    (fields.first(), fields.get(1), fields.get(2))
                else {
                    continue;
                };
                let (Ok(first), Ok(last)) = (
                    redis::from_redis_value::<u16>(first),
                    redis::from_redis_value::<u16>(last),
                ) else {
                    continue;
                };
                if let (Some(Ok(host)), Some(Ok(port))) = (
                    master.first().map(redis::from_redis_value::<String>),
                    master.get(1).map(redis::from_redis_value::<u16>),
                ) {
                    ranges.push(SlotRange {
                        first,
                        last,
                        host,
                        port,
                    });
                }
            }
        }
        if let Ok(mut r) = self.ranges.write() {
            *r = Some(ranges);
        }
        Ok(())
    }
}

/// Where one command of a pipeline goes.
#[derive(PartialEq, Eq, Hash, Clone)]
enum Target {
    /// The node the slot map says serves its slot.
    Node(String, u16),
    /// Wherever the client routes it (its key isn't its first argument, or
    /// the slot map doesn't know the slot, or it has no key).
    Routed(Option<Route>),
}

fn target(cmd: &Cmd, slots: &SlotMap) -> Target {
    let route = match RoutingInfo::for_routable(cmd) {
        Some(RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route))) => route,
        _ => return Target::Routed(None),
    };
    let slot = match cmd.args_iter().nth(1) {
        Some(redis::Arg::Simple(key)) => get_slot(key),
        _ => return Target::Routed(Some(route)),
    };
    // Reads route to `ReplicaOptional`, which still means the master
    // unless the client reads from replicas (Anxin's doesn't).
    if ![SlotAddr::Master, SlotAddr::ReplicaOptional]
        .into_iter()
        .any(|addr| Route::new(slot, addr) == route)
    {
        return Target::Routed(Some(route));
    }
    match slots.node_of(slot) {
        Some((host, port)) => Target::Node(host, port),
        None => Target::Routed(Some(route)),
    }
}

fn is_redirect(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if matches!(e.code(), "MOVED" | "ASK"))
}

/// Sends a (non-transaction) pipeline on a cluster: see the module's doc.
pub(crate) async fn send(
    c: ClusterConnection,
    slots: &SlotMap,
    pipeline: &Pipeline,
) -> RedisResult<Vec<Value>> {
    if !slots.is_known() {
        slots.read(&mut c.clone()).await?;
    }
    let commands: Vec<&Cmd> = pipeline.cmd_iter().collect();
    let mut groups: Vec<(Target, Pipeline, Vec<usize>)> = Vec::new();
    let mut by_target: HashMap<Target, usize> = HashMap::new();
    for (i, cmd) in commands.iter().enumerate() {
        let t = target(cmd, slots);
        let g = *by_target.entry(t.clone()).or_insert_with(|| {
            groups.push((t, Pipeline::new(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.add_command((*cmd).clone());
        groups[g].2.push(i);
    }
    let replies = futures_util::future::join_all(groups.iter().map(|(t, p, positions)| {
        let mut c = c.clone();
        async move {
            let n = positions.len();
            match t {
                Target::Node(host, port) => {
                    let to = SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port: *port,
                    };
                    c.route_pipeline(p, 0, n, to).await
                }
                Target::Routed(_) => c.req_packed_commands(p, 0, n).await,
            }
        }
    }))
    .await;
    let mut out = vec![Value::Nil; commands.len()];
    let mut again = Vec::new();
    for ((t, _, positions), reply) in groups.iter().zip(replies) {
        match reply {
            Ok(values) => {
                for (&i, v) in positions.iter().zip(values) {
                    if is_redirect(&v) {
                        again.push(i);
                    }
                    out[i] = v;
                }
            }
            // A node the client no longer knows (a failover it has seen
            // and the slot map hasn't): each command on its own.
            Err(_) if matches!(t, Target::Node(..)) => again.extend(positions),
            Err(e) => return Err(e),
        }
    }
    if !again.is_empty() {
        slots.forget();
        let resent = futures_util::future::join_all(again.iter().map(|&i| {
            let mut c = c.clone();
            let cmd = commands[i];
            async move { c.req_packed_command(cmd).await }
        }))
        .await;
        for (&i, v) in again.iter().zip(resent) {
            out[i] = v?;
        }
    }
    Ok(out)
}
