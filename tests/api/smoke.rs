use crate::harness::*;
use serde_json::json;

#[test]
fn smoke() {
    let w = World::new();
    for p in ["/destination-domains", "/campaigns/diwali-hero-ab", "/campaigns/diwali-hero-ab/health", "/route-preview?entry=festive&countries=IN&devices=mobile", "/rule-audit", "/tracking-templates"] {
        let res = w.get(&format!("{V2}{p}"), &pat(ADMIN));
        let t = &res.text;
        println!("=== {p} {}\n{}", res.status, &t[..t.len().min(2500)]);
    }
    let r = w.req("POST", &format!("{V2}/campaigns/diwali-hero-ab/test-conversion")).pat(ADMIN).json(json!({"variant":"control"})).send();
    println!("{}", r.text);
    let r = w.req("PUT", &format!("{V2}/site-structure/campaigns/diwali-hero-ab")).pat(ADMIN).json(json!({"access_level":"PUBLIC","document":{"title":"T","blocks":[{"type":"text","body":"hi"}]}})).send();
    println!("{}", r.text);
    let r = w.req("POST", &format!("{V2}/campaigns/diwali-hero-ab/site-tokens")).pat(ADMIN).send();
    println!("{}", r.text);
    let r = w.req("POST", "/v2/support/report").json(json!({"summary":"x","details":"y"})).send();
    println!("{:?}", r);
}
