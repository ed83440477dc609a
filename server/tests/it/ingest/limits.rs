use super::*;

#[tokio::test]
async fn each_api_key_has_a_request_rate_limit() {
    let mut server = TestServer::start_with(|c| c.ingest_key_rps = 2.0).await;
    let keys = people(&server).await;
    // A burst of twice the rate passes, then the key waits.
    for n in 0..4 {
        assert_eq!(
            post_hook(&server, &keys["ana"], stop_hook(n))
                .await
                .status(),
            204,
            "request {n}"
        );
    }
    let r = post_hook(&server, &keys["ana"], stop_hook(4)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // Another key has its own bucket (and its person their own session).
    let mut theirs = stop_hook(5);
    theirs["session_id"] = json!("rl-bo");
    assert_eq!(post_hook(&server, &keys["bo"], theirs).await.status(), 204);
    server.shutdown().await;
}

#[tokio::test]
async fn each_tenant_has_an_event_rate_limit_shared_by_its_keys() {
    // A burst of one event a second: the first key's event empties it for everyone.
    let mut server = TestServer::start_with(|c| c.ingest_tenant_eps = 0.01).await;
    let keys = people(&server).await;
    assert_eq!(
        post_hook(&server, &keys["ana"], stop_hook(0))
            .await
            .status(),
        204
    );
    let r = post_hook(&server, &keys["bo"], stop_hook(1)).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    server.shutdown().await;
}
