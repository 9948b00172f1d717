//! Partition ownership over real AMQP: a `kvwatch run` that claims partitions with a
//! higher owner level (epoch) takes them from one with a lower level; the displaced
//! run stops reading exactly those partitions, keeps the others, and ends once it owns
//! nothing, so a supervisor sees it.

use crate::live_support::*;
use kvwatch::app::live_pipeline::LoopEnd;

const HUB: &str = "audit";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_owner_level_takes_partitions_over_and_the_loser_stops() {
    let standin = standin(&[(HUB, 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    let bodies = deal(&probing_hour(), 20, 2);
    for (p, partition) in bodies.iter().enumerate() {
        standin
            .publish(HUB, &p.to_string(), partition[0].clone())
            .unwrap();
    }
    let a_config = config(
        dir.path(),
        "a",
        "5m",
        "idle_after = \"1h\"",
        &hub_toml(&standin, HUB, &[], Some(1)),
    );
    let a = start_live(&a_config, Some(dir.path().join("a.jsonl"))).await;
    wait_status(&a, "A takes a body from each partition", |s| s.bodies == 2).await;
    within(
        "A holds both partitions",
        standin.wait_for_receivers(HUB, "kvwatch", "1", |r| {
            r.len() == 1 && r[0].owner_level == Some(1)
        }),
    )
    .await;

    let b_config = config(
        dir.path(),
        "b",
        "5m",
        "idle_after = \"1h\"",
        &hub_toml(&standin, HUB, &["0"], Some(2)),
    );
    let b = start_live(&b_config, Some(dir.path().join("b.jsonl"))).await;
    wait_status(&b, "B reads partition 0 from the start", |s| s.bodies == 1).await;
    let a_status = wait_status(&a, "A loses partition 0", |s| s.lost == 1).await;
    assert_eq!(a_status.owned, 1);
    assert_eq!(standin.owner_level(HUB, "kvwatch", "0"), Some(2));

    standin.publish(HUB, "1", bodies[1][1].clone()).unwrap();
    standin.publish(HUB, "0", bodies[0][1].clone()).unwrap();
    wait_status(&a, "A still reads partition 1", |s| s.bodies == 3).await;
    wait_status(&b, "B reads partition 0", |s| s.bodies == 2).await;
    assert_eq!(
        a.status().borrow().bodies,
        3,
        "A took nothing more from partition 0"
    );

    let c_config = config(
        dir.path(),
        "c",
        "5m",
        "idle_after = \"1h\"",
        &hub_toml(&standin, HUB, &["1"], Some(2)),
    );
    let c = start_live(&c_config, None).await;
    wait_status(&c, "C reads partition 1", |s| s.bodies == 2).await;
    let ended = within("A ends once it owns nothing", a.wait())
        .await
        .unwrap();
    assert_eq!(ended.end, LoopEnd::AllLost);
    assert_eq!((ended.status.lost, ended.status.owned), (2, 0));
    assert!(
        ended.status.checkpoints >= 1,
        "A checkpointed what it had before stopping"
    );

    standin.publish(HUB, "1", bodies[1][2].clone()).unwrap();
    wait_status(&c, "C goes on", |s| s.bodies == 3).await;
    for run in [b, c] {
        run.shutdown();
        let outcome = within("stop", run.wait()).await.unwrap();
        assert_eq!(outcome.end, LoopEnd::Drained);
    }
}
