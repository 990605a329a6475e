//! Caps that follow the person: identity keys share a SKU's per-buyer caps across the accounts
//! that send them, and campaigns cap a person across several SKUs, optionally per rolling
//! window of log time.

mod support;

use stockraft_core::*;
use support::*;

const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

/// 100 Moutai, at most 1 per buyer and 1 open hold per buyer.
fn capped_release() -> Shop {
    Shop::with_one_sku(
        100,
        SaleRules { units_per_buyer_max: Some(1), open_holds_per_buyer_max: Some(1), ..SaleRules::default() },
    )
}

#[test]
fn twenty_accounts_on_one_phone_share_the_phones_cap() {
    let mut shop = capped_release();
    shop.reserve_keyed("h0", "account-0", &["phone:5f1c"], &[("moutai", 1)]).unwrap();
    let before = shop.observable();
    for n in 1..20 {
        let refused = shop.reserve_keyed(&format!("h{n}"), &format!("account-{n}"), &["phone:5f1c"], &[("moutai", 1)]);
        assert_eq!(
            refused.unwrap_err(),
            Rejection::KeyLimitExceeded {
                sku: sku_id("moutai"),
                key: key("phone:5f1c"),
                limit: LimitKind::UnitsPerBuyer,
                allowed: 1,
                requested: 2,
            },
            "account-{n}"
        );
    }
    assert_eq!(shop.observable(), before, "the refusals changed nothing");
    assert_eq!(shop.available("moutai"), 99, "one bottle for the phone, not twenty");
    let usage = shop.state.key_usage(&sku_id("moutai"), &key("phone:5f1c")).unwrap();
    assert_eq!(usage, BuyerUsage { units: 1, open_holds: 1 });

    // A person with their own phone is not held back by someone else's.
    shop.reserve_keyed("h-other", "neighbour", &["phone:77aa"], &[("moutai", 1)]).unwrap();
}

#[test]
fn the_refusal_names_the_key_and_the_cap_and_reads_as_a_sentence() {
    let mut shop = capped_release();
    shop.reserve_keyed("h1", "a", &["device:1", "phone:1"], &[("moutai", 1)]).unwrap();
    shop.release("h1").unwrap();
    shop.reserve_keyed("h2", "b", &["device:2", "phone:1"], &[("moutai", 1)]).unwrap();
    // The open-hold cap counts per key too: device 2 is fresh, phone 1 has an open hold.
    let refused = shop.reserve_keyed("h3", "c", &["device:3", "phone:1"], &[("moutai", 1)]).unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("identity key phone:1"), "{message}");
    assert!(message.contains("units_per_buyer_max is 1"), "{message}");
    assert!(message.contains("shared by every account"), "{message}");
}

#[test]
fn a_released_or_expired_hold_gives_the_keys_room_back_and_a_confirmed_one_does_not() {
    let mut shop = capped_release();
    shop.reserve_keyed("h1", "a", &["phone:1"], &[("moutai", 1)]).unwrap();
    shop.release("h1").unwrap();
    shop.reserve_keyed("h2", "b", &["phone:1"], &[("moutai", 1)]).unwrap();
    shop.advance(SaleRules::default().hold_ttl_ms);
    assert_eq!(shop.expire().holds_expired, 1);
    shop.reserve_keyed("h3", "c", &["phone:1"], &[("moutai", 1)]).unwrap();
    shop.confirm("h3").unwrap();
    assert!(matches!(
        shop.reserve_keyed("h4", "d", &["phone:1"], &[("moutai", 1)]),
        Err(Rejection::KeyLimitExceeded { .. })
    ));
    // A refund gives it back.
    shop.cancel("h3").unwrap();
    shop.reserve_keyed("h5", "e", &["phone:1"], &[("moutai", 1)]).unwrap();
}

#[test]
fn a_rehold_is_judged_against_the_keys_caps_too() {
    let mut shop = capped_release();
    shop.reserve_keyed("h1", "a", &["phone:1"], &[("moutai", 1)]).unwrap();
    shop.advance(SaleRules::default().hold_ttl_ms);
    shop.expire();
    // While a's hold lay expired, another account on the same phone took the phone's bottle.
    shop.reserve_keyed("h2", "b", &["phone:1"], &[("moutai", 1)]).unwrap();
    let before = shop.observable();
    assert!(matches!(shop.rehold("h1"), Err(Rejection::KeyLimitExceeded { .. })));
    assert!(matches!(shop.confirm("h1"), Err(Rejection::KeyLimitExceeded { .. })), "a late confirm as well");
    assert_eq!(shop.observable(), before);
}

#[test]
fn keys_are_opaque_and_never_the_same_person_as_a_buyer_id_spelled_alike() {
    let mut shop = capped_release();
    shop.reserve("h1", "alice", &[("moutai", 1)]).unwrap();
    // The key "alice" is not the buyer alice.
    shop.reserve_keyed("h2", "bob", &["alice"], &[("moutai", 1)]).unwrap();
    assert_eq!(shop.available("moutai"), 98);
}

#[test]
fn keyed_requests_are_bounded_and_checked_before_anything_changes() {
    let mut shop = capped_release();
    let before = shop.observable();
    let five = ["k1", "k2", "k3", "k4", "k5"];
    let too_many = shop.reserve_keyed("h1", "a", &five, &[("moutai", 1)]).unwrap_err();
    assert!(too_many.to_string().contains("1 to 4"), "{too_many}");
    let twice = shop.reserve_keyed("h1", "a", &["k1", "k1"], &[("moutai", 1)]).unwrap_err();
    assert!(twice.to_string().contains("given twice"), "{twice}");
    let none = shop.reserve_keyed("h1", "a", &[], &[("moutai", 1)]).unwrap_err();
    assert!(matches!(none, Rejection::InvalidArgument(_)), "{none}");
    assert!(IdentityKey::new("has space").is_err());
    assert_eq!(shop.observable(), before);
}

/// Moutai in two sizes and a gift box, under one campaign of 2 units per person.
fn moutai_campaign(window_ms: Option<u64>) -> Shop {
    let mut shop = Shop::new();
    shop.warehouse("wh", "east", 0);
    shop.item("bottle-500");
    shop.item("bottle-1000");
    shop.sku("moutai-500", &[("bottle-500", 1)], SaleRules::default());
    shop.sku("moutai-1000", &[("bottle-1000", 1)], SaleRules::default());
    shop.sku("moutai-gift", &[("bottle-500", 2)], SaleRules::default());
    shop.receive("bottle-500", "wh", 100);
    shop.receive("bottle-1000", "wh", 100);
    let skus = ["moutai-500", "moutai-1000", "moutai-gift"];
    assert_eq!(shop.campaign("moutai-2026", &skus, 2, window_ms), Ok(Applied::Updated));
    shop
}

#[test]
fn a_campaign_caps_a_person_across_every_sku_in_it() {
    let mut shop = moutai_campaign(None);
    shop.reserve("h1", "alice", &[("moutai-500", 1)]).unwrap();
    shop.reserve("h2", "alice", &[("moutai-1000", 1)]).unwrap();
    let before = shop.observable();
    let refused = shop.reserve("h3", "alice", &[("moutai-gift", 1)]).unwrap_err();
    assert_eq!(
        refused,
        Rejection::CampaignLimitExceeded {
            campaign: campaign_id("moutai-2026"),
            person: Person::Buyer(buyer_id("alice")),
            allowed: 2,
            requested: 3,
            window_ms: None,
        }
    );
    assert!(refused.to_string().contains("campaign moutai-2026"), "{refused}");
    assert_eq!(shop.observable(), before);
    // Two lines of one cart count together.
    let cart = shop.reserve("h4", "bob", &[("moutai-500", 1), ("moutai-1000", 2)]).unwrap_err();
    assert!(matches!(cart, Rejection::CampaignLimitExceeded { requested: 3, .. }), "{cart:?}");
    let usage = shop.state.campaign_usage(&campaign_id("moutai-2026"), &Person::Buyer(buyer_id("alice")));
    assert_eq!(usage, Ok(2));
}

#[test]
fn a_campaign_cap_follows_the_identity_keys_across_accounts_and_skus() {
    let mut shop = moutai_campaign(None);
    shop.reserve_keyed("h1", "account-1", &["phone:1"], &[("moutai-500", 2)]).unwrap();
    let refused = shop.reserve_keyed("h2", "account-2", &["phone:1"], &[("moutai-1000", 1)]).unwrap_err();
    assert!(
        matches!(&refused, Rejection::CampaignLimitExceeded { person: Person::Key(k), .. } if *k == key("phone:1")),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("identity key phone:1"), "{refused}");
}

#[test]
fn bought_units_stay_counted_after_the_hold_is_pruned_and_released_ones_do_not() {
    let mut shop = moutai_campaign(None);
    shop.reserve("h1", "alice", &[("moutai-500", 1)]).unwrap();
    shop.release("h1").unwrap();
    shop.reserve("h2", "alice", &[("moutai-500", 2)]).unwrap();
    shop.confirm("h2").unwrap();
    shop.ship("h2").unwrap();
    // A week and a day later the shipped hold is pruned; the campaign still remembers it.
    shop.advance(8 * DAY_MS);
    assert!(shop.expire().closed_holds_pruned >= 1);
    assert!(shop.state.hold(&hold_id("h2")).is_none());
    assert!(matches!(shop.reserve("h3", "alice", &[("moutai-1000", 1)]), Err(Rejection::CampaignLimitExceeded { .. })));
}

#[test]
fn a_rolling_window_forgets_what_was_bought_before_it() {
    let mut shop = moutai_campaign(Some(30 * DAY_MS));
    shop.reserve("h1", "alice", &[("moutai-500", 2)]).unwrap();
    shop.confirm("h1").unwrap();
    shop.advance(30 * DAY_MS - 1);
    assert!(matches!(shop.reserve("h2", "alice", &[("moutai-500", 1)]), Err(Rejection::CampaignLimitExceeded { .. })));
    assert_eq!(shop.state.next_expire_due_ms().map(|due| due <= shop.now_ms + 1), Some(true));
    shop.advance(1);
    // The window has passed: the cap reads nothing before the Expire that forgets the count.
    shop.reserve("h2", "alice", &[("moutai-500", 1)]).unwrap();
    let report = shop.expire();
    assert_eq!(report.campaign_counts_aged, 1);
    let usage = shop.state.campaign_usage(&campaign_id("moutai-2026"), &Person::Buyer(buyer_id("alice")));
    assert_eq!(usage, Ok(1));
    // The window may change, not go: what aged out cannot be counted again.
    let skus = ["moutai-500", "moutai-1000", "moutai-gift"];
    assert!(shop.campaign("moutai-2026", &skus, 2, Some(60 * DAY_MS)).is_ok());
    let removed = shop.campaign("moutai-2026", &skus, 2, None).unwrap_err();
    assert!(removed.to_string().contains("may change but not be removed"), "{removed}");
}

#[test]
fn a_rehold_counts_again_in_the_campaign_after_its_expiry_gave_the_units_back() {
    let mut shop = moutai_campaign(None);
    shop.reserve("h1", "alice", &[("moutai-500", 2)]).unwrap();
    shop.advance(SaleRules::default().hold_ttl_ms);
    shop.expire();
    let person = Person::Buyer(buyer_id("alice"));
    assert_eq!(shop.state.campaign_usage(&campaign_id("moutai-2026"), &person), Ok(0));
    shop.rehold("h1").unwrap();
    assert_eq!(shop.state.campaign_usage(&campaign_id("moutai-2026"), &person), Ok(2));
}

#[test]
fn bad_campaigns_are_refused_and_change_nothing() {
    let mut shop = moutai_campaign(None);
    let before = shop.observable();
    let unknown_sku = shop.campaign("c", &["no-such-sku"], 2, None).unwrap_err();
    assert_eq!(unknown_sku, Rejection::NotFound { kind: EntityKind::Sku, id: "no-such-sku".into() });
    assert!(matches!(shop.campaign("c", &[], 2, None), Err(Rejection::InvalidArgument(_))));
    assert!(matches!(shop.campaign("c", &["moutai-500"], 0, None), Err(Rejection::InvalidArgument(_))));
    let twice = shop.campaign("c", &["moutai-500", "moutai-500"], 2, None).unwrap_err();
    assert!(twice.to_string().contains("listed twice"), "{twice}");
    let short = shop.campaign("c", &["moutai-500"], 2, Some(1_000)).unwrap_err();
    assert!(short.to_string().contains("window_ms 1000 is outside"), "{short}");
    assert_eq!(shop.state.campaign(&campaign_id("c")).unwrap_err().to_string(), "campaign \"c\" not found");
    assert_eq!(shop.observable(), before);
    // A SKU may be in at most 4 campaigns.
    for n in 0..3 {
        shop.campaign(&format!("extra-{n}"), &["moutai-500"], 5, None).unwrap();
    }
    let fifth = shop.campaign("extra-3", &["moutai-500"], 5, None).unwrap_err();
    assert!(fifth.to_string().contains("already in 4 campaigns"), "{fifth}");
}

#[test]
fn changing_a_campaign_keeps_what_people_counted_and_lowering_the_cap_revokes_nothing() {
    let mut shop = moutai_campaign(None);
    shop.reserve("h1", "alice", &[("moutai-500", 2)]).unwrap();
    shop.campaign("moutai-2026", &["moutai-500", "moutai-1000"], 1, None).unwrap();
    assert_eq!(shop.hold_state("h1"), HoldState::Held, "a lower cap revokes no hold");
    assert!(matches!(shop.reserve("h2", "alice", &[("moutai-1000", 1)]), Err(Rejection::CampaignLimitExceeded { .. })));
    // Taking the gift box out of the campaign frees it from the cap.
    shop.reserve("h3", "alice", &[("moutai-gift", 1)]).unwrap();
    let view = shop.state.campaign(&campaign_id("moutai-2026")).unwrap();
    assert_eq!(view.skus, vec![sku_id("moutai-500"), sku_id("moutai-1000")]);
    assert_eq!(view.people_tracked, 1);
}

#[test]
fn keys_and_campaign_counts_survive_a_snapshot_byte_for_byte() {
    let mut shop = moutai_campaign(Some(30 * DAY_MS));
    shop.reserve_keyed("h1", "a", &["phone:1", "device:1"], &[("moutai-500", 1)]).unwrap();
    shop.reserve_keyed("h2", "b", &["phone:2"], &[("moutai-1000", 2)]).unwrap();
    shop.confirm("h2").unwrap();
    let bytes = shop.state.snapshot();
    let restored = State::restore(&bytes).unwrap();
    assert_eq!(restored.snapshot(), bytes);
    assert_eq!(restored.hold_keys(&hold_id("h1")), &[key("phone:1"), key("device:1")]);
    assert_eq!(restored.key_usage(&sku_id("moutai-500"), &key("device:1")).unwrap().units, 1);
    assert_eq!(restored.next_expire_due_ms(), shop.state.next_expire_due_ms(), "the ageing queue is rebuilt");
    shop.state = restored;
    assert!(matches!(
        shop.reserve_keyed("h3", "c", &["phone:2"], &[("moutai-500", 1)]),
        Err(Rejection::CampaignLimitExceeded { .. })
    ));
}
