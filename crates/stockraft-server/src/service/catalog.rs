//! `stockraft.v1.Catalog`: warehouses, items, SKUs and rules, stock movements, inbound
//! shipments, shipping and the audit ledger. Writes go through Raft; reads are linearizable.

use super::{applied, ok, refused, route, unexpected};
use crate::node::Node;
use crate::proposer::Alone;
use std::sync::Arc;
use stockraft_api::to_core;
use stockraft_api::to_proto;
use stockraft_core::limits::IMPORT_BATCH_MAX;
use stockraft_core::{
    Applied, CampaignId, EntityKind, HoldId, ItemId, Op, Rejection, Request, SkuId, State, WarehouseId,
};
use stockraft_proto::errors::{error_detail, invalid_argument};
use stockraft_proto::v1;
use stockraft_proto::v1::catalog_client::CatalogClient;
use stockraft_proto::v1::catalog_server::Catalog;
use tonic::{Request as Call, Response, Status};

pub struct CatalogService {
    pub node: Arc<Node>,
}

impl CatalogService {
    /// Proposes a request expected to answer `Updated`, then reads the result with `answer`.
    async fn update<T>(
        &self,
        request: Request,
        answer: impl FnOnce(&State) -> Result<T, Rejection>,
    ) -> Result<Response<T>, Status> {
        let (index, outcome) = self.node.propose_one(request).await?;
        match applied(outcome, index)? {
            Applied::Updated => self.node.read(answer).map(Response::new).map_err(refused),
            other => Err(unexpected("a catalog change", &other)),
        }
    }

    async fn stock_write(&self, request: Request) -> Result<Response<v1::StockLevel>, Status> {
        let (index, outcome) = self.node.propose_one(request).await?;
        match applied(outcome, index)? {
            Applied::Stock(change) => {
                // The index the change took effect at (a retry's answer keeps the first's).
                let level = to_proto::stock_level(change.item.as_str(), change.warehouse.as_str(), &change.level);
                ok(v1::StockLevel { log_index: change.log_index, ..level })
            }
            other => Err(unexpected("a stock change", &other)),
        }
    }

    /// Answers from this node's applied state (`allow_stale`).
    fn local_read<T>(&self, answer: impl FnOnce(&State) -> Result<T, Rejection>) -> Result<Response<T>, Status> {
        self.node.read(answer).map(Response::new).map_err(refused)
    }

    /// Waits until a read may be answered linearizably (the call was routed to the leader).
    async fn read<T>(&self, answer: impl FnOnce(&State) -> Result<T, Rejection>) -> Result<Response<T>, Status> {
        self.node.linearize().await?;
        self.node.read(answer).map(Response::new).map_err(refused)
    }
}

fn sku_reply(state: &State, id: &SkuId) -> Result<v1::Sku, Rejection> {
    Ok(to_proto::sku(state, state.sku(id)?))
}

fn raffle_reply(state: &State, id: &SkuId) -> Result<v1::Raffle, Rejection> {
    let raffle = state.raffle(id)?.ok_or_else(|| Rejection::not_found(EntityKind::Raffle, id))?;
    Ok(to_proto::raffle(&raffle))
}

fn item_reply(state: &State, id: &ItemId) -> Result<v1::Item, Rejection> {
    state
        .items()
        .find(|(item, _)| *item == id)
        .map(|(item, name)| v1::Item { id: item.to_string(), name: name.to_string() })
        .ok_or_else(|| Rejection::not_found(EntityKind::Item, id))
}

/// One page of `(id, value)` pairs in id order: ids after `after`, at most `limit`.
fn page<T>(mut entries: Vec<(String, T)>, page: &to_core::Page<'_>) -> Vec<T> {
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().filter(|(id, _)| id.as_str() > page.after).take(page.limit).map(|(_, v)| v).collect()
}

#[tonic::async_trait]
impl Catalog for CatalogService {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(ops = call.get_ref().ops.len()))]
    async fn import(&self, call: Call<v1::ImportRequest>) -> Result<Response<v1::ImportReply>, Status> {
        let ops = &call.get_ref().ops;
        if ops.is_empty() || ops.len() > IMPORT_BATCH_MAX {
            return Err(invalid_argument(format!(
                "an import holds 1 to {IMPORT_BATCH_MAX} operations, not {}",
                ops.len()
            )));
        }
        // An operation refused here (a malformed id, a note too long, a TTL out of bounds) is
        // answered as the ledger answers a refusal inside the batch: not applied, naming the
        // operation, so the importer can point at its line. Nothing was proposed: log index 0.
        let mut requests = Vec::with_capacity(ops.len());
        for (n, op) in ops.iter().enumerate() {
            match to_core::import_op(op) {
                Ok(request) => requests.push(request),
                Err(rejection) => {
                    return ok(v1::ImportReply {
                        applied: false,
                        log_index: 0,
                        refused_op: n as u32,
                        refusal: Some(to_proto::rejection_detail(&rejection, 0)),
                    });
                }
            }
        }
        route!(self.node, call, CatalogClient, import);
        // Its own Raft entry (not packed with other calls by the proposer): the ledger applies
        // the whole batch or none of it.
        let (log_index, outcome) = self.node.propose_alone(Alone::AllOrNothing(requests)).await?;
        let outcomes = match applied(outcome, log_index)? {
            Applied::Batch(outcomes) => outcomes,
            other => return Err(unexpected("an import", &other)),
        };
        let reply = match State::refused_in_batch(&outcomes) {
            None => v1::ImportReply { applied: true, log_index, ..v1::ImportReply::default() },
            Some((at, rejection)) => v1::ImportReply {
                applied: false,
                log_index,
                refused_op: at as u32,
                refusal: error_detail(&to_proto::rejection_at(rejection, log_index)),
            },
        };
        ok(reply)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn upsert_warehouse(
        &self,
        call: Call<v1::UpsertWarehouseRequest>,
    ) -> Result<Response<v1::Warehouse>, Status> {
        let request = to_core::upsert_warehouse(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, upsert_warehouse);
        let id = WarehouseId::new(&call.get_ref().warehouse.as_ref().map(|w| w.id.clone()).unwrap_or_default())
            .map_err(refused)?;
        self.update(request, |state| state.warehouse(&id).map(to_proto::warehouse)).await
    }

    async fn list_warehouses(
        &self,
        call: Call<v1::ListWarehousesRequest>,
    ) -> Result<Response<v1::WarehouseList>, Status> {
        to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        route!(self.node, call, CatalogClient, list_warehouses);
        let p = to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        self.read(|state| {
            let all = state.warehouses().iter().map(|w| (w.id.to_string(), to_proto::warehouse(w))).collect();
            Ok(v1::WarehouseList { warehouses: page(all, &p) })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn upsert_item(&self, call: Call<v1::UpsertItemRequest>) -> Result<Response<v1::Item>, Status> {
        let request = to_core::upsert_item(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, upsert_item);
        let id =
            ItemId::new(&call.get_ref().item.as_ref().map(|i| i.id.clone()).unwrap_or_default()).map_err(refused)?;
        self.update(request, |state| item_reply(state, &id)).await
    }

    async fn list_items(&self, call: Call<v1::ListItemsRequest>) -> Result<Response<v1::ItemList>, Status> {
        to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        route!(self.node, call, CatalogClient, list_items);
        let p = to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        self.read(|state| {
            let all = state
                .items()
                .map(|(id, name)| (id.to_string(), v1::Item { id: id.to_string(), name: name.to_string() }))
                .collect();
            Ok(v1::ItemList { items: page(all, &p) })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, sku_id = %call.get_ref().sku_id))]
    async fn upsert_sku(&self, call: Call<v1::UpsertSkuRequest>) -> Result<Response<v1::Sku>, Status> {
        let request = to_core::upsert_sku(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, upsert_sku);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        self.update(request, |state| sku_reply(state, &id)).await
    }

    async fn get_sku(&self, call: Call<v1::GetSkuRequest>) -> Result<Response<v1::Sku>, Status> {
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        route!(self.node, call, CatalogClient, get_sku);
        self.read(|state| sku_reply(state, &id)).await
    }

    async fn list_skus(&self, call: Call<v1::ListSkusRequest>) -> Result<Response<v1::SkuList>, Status> {
        to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        route!(self.node, call, CatalogClient, list_skus);
        let p = to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        self.read(|state| {
            let mut ids: Vec<&SkuId> = state.sku_ids().filter(|id| id.as_str() > p.after).collect();
            ids.sort_unstable();
            let skus = ids.into_iter().take(p.limit).map(|id| sku_reply(state, id)).collect::<Result<_, _>>()?;
            Ok(v1::SkuList { skus })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn block_buyer(&self, call: Call<v1::BlockBuyerRequest>) -> Result<Response<v1::Sku>, Status> {
        let request = to_core::block_buyer(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, block_buyer);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        self.update(request, |state| sku_reply(state, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn set_sale_window(&self, call: Call<v1::SetSaleWindowRequest>) -> Result<Response<v1::Sku>, Status> {
        let request = to_core::set_sale_window(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, set_sale_window);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        self.update(request, |state| sku_reply(state, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn upsert_campaign(&self, call: Call<v1::UpsertCampaignRequest>) -> Result<Response<v1::Campaign>, Status> {
        let request = to_core::upsert_campaign(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, upsert_campaign);
        let Op::UpsertCampaign(upsert) = &request.op else { unreachable!("to_core::upsert_campaign builds one") };
        let id = upsert.id.clone();
        self.update(request, |state| Ok(to_proto::campaign(&state.campaign(&id)?, None))).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, sku_id = %call.get_ref().sku_id))]
    async fn set_waitlist(&self, call: Call<v1::SetWaitlistRequest>) -> Result<Response<v1::Sku>, Status> {
        let request = to_core::set_waitlist(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, set_waitlist);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        self.update(request, |state| sku_reply(state, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, sku_id = %call.get_ref().sku_id))]
    async fn create_raffle(&self, call: Call<v1::CreateRaffleRequest>) -> Result<Response<v1::Raffle>, Status> {
        let request = to_core::create_raffle(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, create_raffle);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        self.update(request, |state| raffle_reply(state, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, sku_id = %call.get_ref().sku_id))]
    async fn draw_raffle(&self, call: Call<v1::DrawRaffleRequest>) -> Result<Response<v1::Raffle>, Status> {
        let request = to_core::draw_raffle(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, draw_raffle);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        let (index, outcome) = self.node.propose_one(request).await?;
        match applied(outcome, index)? {
            Applied::RaffleDrawn { .. } => {
                self.node.read(|state| raffle_reply(state, &id)).map(Response::new).map_err(refused)
            }
            other => Err(unexpected("a raffle draw", &other)),
        }
    }

    async fn get_raffle(&self, call: Call<v1::GetRaffleRequest>) -> Result<Response<v1::Raffle>, Status> {
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        route!(self.node, call, CatalogClient, get_raffle);
        self.read(|state| raffle_reply(state, &id)).await
    }

    async fn get_campaign(&self, call: Call<v1::GetCampaignRequest>) -> Result<Response<v1::Campaign>, Status> {
        let id = CampaignId::new(&call.get_ref().campaign_id).map_err(refused)?;
        let person = to_core::campaign_person(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, get_campaign);
        self.read(|state| {
            let counted = person.as_ref().map(|person| state.campaign_usage(&id, person)).transpose()?;
            Ok(to_proto::campaign(&state.campaign(&id)?, counted))
        })
        .await
    }

    async fn list_campaigns(&self, call: Call<v1::ListCampaignsRequest>) -> Result<Response<v1::CampaignList>, Status> {
        route!(self.node, call, CatalogClient, list_campaigns);
        self.read(|state| {
            let campaigns = state.campaign_ids().map(|id| state.campaign(id).map(|c| to_proto::campaign(&c, None)));
            Ok(v1::CampaignList { campaigns: campaigns.collect::<Result<_, _>>()? })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn unblock_buyer(&self, call: Call<v1::UnblockBuyerRequest>) -> Result<Response<v1::Sku>, Status> {
        let request = to_core::unblock_buyer(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, unblock_buyer);
        let id = SkuId::new(&call.get_ref().sku_id).map_err(refused)?;
        self.update(request, |state| sku_reply(state, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn receive_stock(&self, call: Call<v1::ReceiveStockRequest>) -> Result<Response<v1::StockLevel>, Status> {
        let request = to_core::stock_figure(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, receive_stock);
        self.stock_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn count_stock(&self, call: Call<v1::CountStockRequest>) -> Result<Response<v1::StockLevel>, Status> {
        let request = to_core::stock_figure(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, count_stock);
        self.stock_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn set_safety_stock(
        &self,
        call: Call<v1::SetSafetyStockRequest>,
    ) -> Result<Response<v1::StockLevel>, Status> {
        let request = to_core::stock_figure(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, set_safety_stock);
        self.stock_write(request).await
    }

    async fn get_stock(&self, call: Call<v1::GetStockRequest>) -> Result<Response<v1::StockLevel>, Status> {
        let item = ItemId::new(&call.get_ref().item_id).map_err(refused)?;
        let warehouse = WarehouseId::new(&call.get_ref().warehouse_id).map_err(refused)?;
        route!(self.node, call, CatalogClient, get_stock);
        self.read(|state| {
            Ok(to_proto::stock_level(item.as_str(), warehouse.as_str(), &state.stock(&item, &warehouse)?))
        })
        .await
    }

    async fn list_shortfalls(
        &self,
        call: Call<v1::ListShortfallsRequest>,
    ) -> Result<Response<v1::StockLevelList>, Status> {
        to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        route!(self.node, call, CatalogClient, list_shortfalls);
        let p = to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        self.read(|state| {
            let all = state
                .shortfalls()
                .iter()
                .map(|s| {
                    (
                        format!("{}/{}", s.item, s.warehouse),
                        to_proto::stock_level(s.item.as_str(), s.warehouse.as_str(), &s.level),
                    )
                })
                .collect();
            Ok(v1::StockLevelList { levels: page(all, &p) })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn add_inbound(&self, call: Call<v1::AddInboundRequest>) -> Result<Response<v1::StockLevel>, Status> {
        let request = to_core::add_inbound(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, add_inbound);
        self.stock_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn receive_inbound(&self, call: Call<v1::ReceiveInboundRequest>) -> Result<Response<v1::StockLevel>, Status> {
        let request = to_core::receive_inbound(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, receive_inbound);
        self.stock_write(request).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id))]
    async fn cancel_inbound(&self, call: Call<v1::CancelInboundRequest>) -> Result<Response<v1::StockLevel>, Status> {
        let request = to_core::cancel_inbound(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, cancel_inbound);
        self.stock_write(request).await
    }

    async fn list_inbound(&self, call: Call<v1::ListInboundRequest>) -> Result<Response<v1::InboundList>, Status> {
        to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        route!(self.node, call, CatalogClient, list_inbound);
        let p = to_core::page(&call.get_ref().after, call.get_ref().limit).map_err(refused)?;
        self.read(|state| {
            let all = state
                .inbound()
                .into_iter()
                .map(|(shipment, item, warehouse, units, expected_arrival_ms)| {
                    let message = v1::InboundShipment {
                        shipment_id: shipment.to_string(),
                        item_id: item.to_string(),
                        warehouse_id: warehouse.to_string(),
                        units,
                        expected_arrival_ms,
                    };
                    (shipment.to_string(), message)
                })
                .collect();
            Ok(v1::InboundList { shipments: page(all, &p) })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"), fields(request_id = %call.get_ref().request_id, hold_id = %call.get_ref().hold_id))]
    async fn ship(&self, call: Call<v1::ShipRequest>) -> Result<Response<v1::Hold>, Status> {
        let request = to_core::hold_action(call.get_ref()).map_err(refused)?;
        route!(self.node, call, CatalogClient, ship);
        let id = HoldId::new(&call.get_ref().hold_id).map_err(refused)?;
        let (index, outcome) = self.node.propose_one(request).await?;
        match applied(outcome, index)? {
            Applied::Hold(_) => self
                .node
                .read(|state| state.hold(&id).map(|view| to_proto::hold(&view)))
                .map(Response::new)
                .ok_or_else(|| refused(Rejection::not_found(EntityKind::Hold, &id))),
            other => Err(unexpected("a shipment", &other)),
        }
    }

    async fn query_ledger(&self, call: Call<v1::QueryLedgerRequest>) -> Result<Response<v1::LedgerPage>, Status> {
        let query = to_core::ledger_query(call.get_ref()).map_err(refused)?;
        if call.get_ref().allow_stale {
            return self.local_read(|state| ledger_page(state, &query));
        }
        route!(self.node, call, CatalogClient, query_ledger);
        self.read(|state| ledger_page(state, &query)).await
    }
}

fn ledger_page(state: &State, query: &stockraft_core::LedgerQuery) -> Result<v1::LedgerPage, Rejection> {
    let entries: Vec<v1::LedgerEntry> = state.ledger(query)?.iter().map(to_proto::ledger_entry).collect();
    let next_seq = entries.last().map_or(query.from_seq, |e| e.seq + 1);
    Ok(v1::LedgerPage { entries, next_seq })
}
