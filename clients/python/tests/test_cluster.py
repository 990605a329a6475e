"""The Python client against a real 3-node cluster, as a Python order service would use it:
grpcio stubs generated from proto/, errors read with grpc-status, the API found with
grpcio-reflection (v1alpha, the protocol it speaks).

Run by scripts/python-client.sh (make test-python, and make test). STOCKD names the stockd
binary (default: target/debug/stockd).
"""

import concurrent.futures
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from stockraft_client import (
    Cluster,
    catalog_pb2,
    catalog_pb2_grpc,
    cluster_pb2,
    cluster_pb2_grpc,
    inventory_pb2,
    inventory_pb2_grpc,
    new_request_id,
    refusal,
    types_pb2,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
STOCKD = os.environ.get("STOCKD", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "debug", "stockd"))
UNITS = 300
SKU = "py-flash"
TEA = "py-tea"


def free_ports(count: int) -> list:
    """Ports free now, all held until all are chosen (so no two are the same)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def reserve_request(hold: str, buyer: str, quantity: int = 1) -> inventory_pb2.ReserveRequest:
    return inventory_pb2.ReserveRequest(
        request_id=new_request_id(),
        hold_id=hold,
        buyer_id=buyer,
        lines=[types_pb2.Line(sku_id=SKU, quantity=quantity)],
    )


class ThreeNodes:
    """Three stockd processes in a temporary directory, node 1 bootstrapping."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="stockraft-python-")
        self.addresses = {n: f"127.0.0.1:{port}" for n, port in zip((1, 2, 3), free_ports(3))}
        self.processes = {}
        members = ",\n".join(f'  {{ id = {n}, address = "{a}" }}' for n, a in self.addresses.items())
        for n, address in self.addresses.items():
            config = os.path.join(self.dir.name, f"node{n}.toml")
            with open(config, "w") as f:
                f.write(f'node_id = {n}\nlisten = "{address}"\ndata_dir = "{self.dir.name}/node{n}"\n')
                f.write(f"bootstrap = {'true' if n == 1 else 'false'}\nmembers = [\n{members}\n]\n")
                f.write("[raft]\nheartbeat_ms = 100\nelection_timeout_min_ms = 300\nelection_timeout_max_ms = 600\n")
            self.start(n)

    def start(self, n: int):
        config = os.path.join(self.dir.name, f"node{n}.toml")
        with open(os.path.join(self.dir.name, f"node{n}.log"), "ab") as log:
            self.processes[n] = subprocess.Popen([STOCKD, "--config", config], stdout=log, stderr=log)

    def kill(self, n: int):
        self.processes[n].send_signal(signal.SIGKILL)
        self.processes[n].wait()

    def leader(self, among=(1, 2, 3), within: float = 30.0) -> int:
        """The node that every live node in ``among`` names as leader."""
        give_up_at = time.monotonic() + within
        while time.monotonic() < give_up_at:
            seen = set()
            for n in among:
                try:
                    with grpc.insecure_channel(self.addresses[n]) as channel:
                        status = cluster_pb2_grpc.ClusterStub(channel).Status(cluster_pb2.StatusRequest(), timeout=1)
                        seen.add(status.leader_id)
                except grpc.RpcError:
                    seen.add(None)
            if len(seen) == 1 and 0 not in seen and None not in seen:
                return seen.pop()
            time.sleep(0.1)
        raise AssertionError(f"no leader among {among} within {within} s")

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.dir.cleanup()


class APythonOrderService(unittest.TestCase):
    """Tests run in name order: the shop is set up once; the sale that sells it out is last."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = ThreeNodes()
        # Runs even if the rest of the set-up fails: no stockd is left behind.
        cls.addClassCleanup(cls.nodes.stop)
        cls.nodes.leader()
        cls.cluster = Cluster(cls.nodes.addresses.values())
        call = cls.cluster.call
        call(catalog_pb2_grpc.CatalogStub, "UpsertWarehouse", catalog_pb2.UpsertWarehouseRequest(
            request_id=new_request_id(),
            # No `active`: absent means active.
            warehouse=types_pb2.Warehouse(id="py-wh", name="Shanghai", region="east", priority=1)))
        call(catalog_pb2_grpc.CatalogStub, "UpsertItem", catalog_pb2.UpsertItemRequest(
            request_id=new_request_id(), item=types_pb2.Item(id="py-item", name="Moutai 500 ml")))
        call(catalog_pb2_grpc.CatalogStub, "UpsertSku", catalog_pb2.UpsertSkuRequest(
            request_id=new_request_id(), sku_id=SKU,
            components=[types_pb2.Component(item_id="py-item", quantity=1)],
            rules=types_pb2.SaleRules(hold_ttl_ms=600_000, units_per_buyer_max=2)))
        call(catalog_pb2_grpc.CatalogStub, "ReceiveStock", catalog_pb2.ReceiveStockRequest(
            request_id=new_request_id(), item_id="py-item", warehouse_id="py-wh", units=UNITS, note="test"))
        # A SKU whose holds expire after a second, re-held at most once.
        call(catalog_pb2_grpc.CatalogStub, "UpsertItem", catalog_pb2.UpsertItemRequest(
            request_id=new_request_id(), item=types_pb2.Item(id="py-tea", name="Tea")))
        call(catalog_pb2_grpc.CatalogStub, "UpsertSku", catalog_pb2.UpsertSkuRequest(
            request_id=new_request_id(), sku_id=TEA,
            components=[types_pb2.Component(item_id="py-tea", quantity=1)],
            rules=types_pb2.SaleRules(hold_ttl_ms=1_000, rehold_limit=1)))
        call(catalog_pb2_grpc.CatalogStub, "ReceiveStock", catalog_pb2.ReceiveStockRequest(
            request_id=new_request_id(), item_id="py-tea", warehouse_id="py-wh", units=1, note="test"))

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def availability(self) -> types_pb2.Availability:
        return self.cluster.call(inventory_pb2_grpc.InventoryStub, "GetAvailability",
                                 inventory_pb2.GetAvailabilityRequest(sku_id=SKU))

    def test_1_the_api_is_found_by_reflection_v1alpha(self):
        with grpc.insecure_channel(self.nodes.addresses[2]) as channel:
            database = ProtoReflectionDescriptorDatabase(channel)
            services = set(database.get_services())
            self.assertTrue({"stockraft.v1.Inventory", "stockraft.v1.Catalog", "stockraft.v1.Cluster"} <= services,
                            services)
            file = database.FindFileContainingSymbol("stockraft.v1.Inventory")
            methods = {m.name for s in file.service for m in s.method}
            self.assertIn("Reserve", methods)
        # The warehouse sent without `active` sells.
        self.assertEqual(self.availability().sellable_units, UNITS)

    def test_2_a_cap_refusal_is_read_with_the_standard_helpers(self):
        for hold in ("cap-1", "cap-2"):
            self.cluster.call(inventory_pb2_grpc.InventoryStub, "Reserve", reserve_request(hold, "cap-buyer"))
        with self.assertRaises(grpc.RpcError) as refused:
            self.cluster.call(inventory_pb2_grpc.InventoryStub, "Reserve", reserve_request("cap-3", "cap-buyer"))
        error = refused.exception
        self.assertEqual(error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        seen = refusal(error)  # grpc_status.rpc_status.from_call underneath: it checks code and message
        self.assertEqual((seen.reason, seen.domain), ("LIMIT_EXCEEDED", "stockraft"))
        self.assertEqual(seen.metadata["limit"], "units_per_buyer_max")
        self.assertEqual((seen.metadata["allowed"], seen.metadata["requested"]), ("2", "3"))
        self.assertEqual(seen.detail.reason, types_pb2.REASON_LIMIT_EXCEEDED)
        self.assertIsNone(seen.retry_delay, "a refusal is not retried as it is")
        self.assertIn("units_per_buyer_max is 2", seen.message)

    def test_3_bytes_that_are_not_a_request_are_the_callers_fault(self):
        with grpc.insecure_channel(self.nodes.addresses[1]) as channel:
            # No serializers: the bytes go as they are. 0x08 0x07 is field 1 as a varint,
            # where ReserveRequest's field 1 is a string.
            raw = channel.unary_unary("/stockraft.v1.Inventory/Reserve")
            with self.assertRaises(grpc.RpcError) as refused:
                raw(b"\x08\x07", timeout=5)
            seen = refusal(refused.exception)
            self.assertEqual(seen.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(seen.reason, "INVALID_ARGUMENT")
            unknown = channel.unary_unary("/stockraft.v1.Inventory/ReserveEverything")
            with self.assertRaises(grpc.RpcError) as refused:
                unknown(b"", timeout=5)
            seen = refusal(refused.exception)
            self.assertEqual((seen.code, seen.reason), (grpc.StatusCode.UNIMPLEMENTED, "UNIMPLEMENTED"))
        self.assertEqual(self.availability().sellable_units, UNITS - 2, "nothing above took stock")

    def test_3a_a_buyer_back_after_the_hold_expired_re_holds_it_once(self):
        order = inventory_pb2.ReserveRequest(request_id=new_request_id(), hold_id="tea-1", buyer_id="carol",
                                             lines=[types_pb2.Line(sku_id=TEA, quantity=1)])
        self.cluster.call(inventory_pb2_grpc.InventoryStub, "Reserve", order)
        time.sleep(1.2)
        again = self.cluster.call(inventory_pb2_grpc.InventoryStub, "Rehold",
                                  inventory_pb2.ReholdRequest(request_id=new_request_id(), hold_id="tea-1"))
        self.assertEqual((again.state, again.reheld), (types_pb2.HOLD_STATE_HELD, True))
        time.sleep(1.2)
        with self.assertRaises(grpc.RpcError) as refused:
            self.cluster.call(inventory_pb2_grpc.InventoryStub, "Rehold",
                              inventory_pb2.ReholdRequest(request_id=new_request_id(), hold_id="tea-1"))
        seen = refusal(refused.exception)
        self.assertEqual((seen.code, seen.reason), (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED"))
        self.assertEqual(seen.metadata["reholdRefusal"], "LIMIT_REACHED")
        self.assertEqual(seen.detail.rehold_refusal, types_pb2.REHOLD_REFUSAL_LIMIT_REACHED)
        self.assertEqual(seen.detail.hold_id, "tea-1")

    def test_3b_a_raffle_draw_is_verified_with_hashlib_alone(self):
        # The back office commits to a secret seed by its SHA-256, then reveals it at the draw;
        # anyone recomputes the draw from the published entries with nothing but hashlib.
        call = self.cluster.call
        seed = os.urandom(32)
        call(catalog_pb2_grpc.CatalogStub, "UpsertItem", catalog_pb2.UpsertItemRequest(
            request_id=new_request_id(), item=types_pb2.Item(id="py-zodiac", name="Zodiac bottle")))
        call(catalog_pb2_grpc.CatalogStub, "UpsertSku", catalog_pb2.UpsertSkuRequest(
            request_id=new_request_id(), sku_id="py-zodiac",
            components=[types_pb2.Component(item_id="py-zodiac", quantity=1)],
            rules=types_pb2.SaleRules(hold_ttl_ms=600_000)))
        call(catalog_pb2_grpc.CatalogStub, "ReceiveStock", catalog_pb2.ReceiveStockRequest(
            request_id=new_request_id(), item_id="py-zodiac", warehouse_id="py-wh", units=2, note="test"))
        now_ms = int(time.time() * 1000)
        call(catalog_pb2_grpc.CatalogStub, "CreateRaffle", catalog_pb2.CreateRaffleRequest(
            request_id=new_request_id(), sku_id="py-zodiac", entries_open_at_ms=now_ms,
            entries_close_at_ms=now_ms + 2_000, seed_sha256=hashlib.sha256(seed).digest()))
        for n in range(5):
            entered = call(inventory_pb2_grpc.InventoryStub, "EnterRaffle", inventory_pb2.EnterRaffleRequest(
                request_id=new_request_id(), hold_id=f"py-ticket-{n}", buyer_id=f"py-fan-{n}",
                lines=[types_pb2.Line(sku_id="py-zodiac", quantity=1)]))
            self.assertEqual(entered.state, types_pb2.HOLD_STATE_RAFFLE_ENTERED)
        time.sleep(max(0.0, (now_ms + 2_100) / 1000 - time.time()))
        with self.assertRaises(grpc.RpcError) as refused:
            call(catalog_pb2_grpc.CatalogStub, "DrawRaffle", catalog_pb2.DrawRaffleRequest(
                request_id=new_request_id(), sku_id="py-zodiac", seed=os.urandom(32)))
        seen = refusal(refused.exception)
        self.assertEqual((seen.code, seen.reason), (grpc.StatusCode.FAILED_PRECONDITION, "RAFFLE"))
        self.assertEqual(seen.metadata["raffleRefusal"], "SEED_MISMATCH")
        call(catalog_pb2_grpc.CatalogStub, "DrawRaffle", catalog_pb2.DrawRaffleRequest(
            request_id=new_request_id(), sku_id="py-zodiac", seed=seed))

        raffle = call(catalog_pb2_grpc.CatalogStub, "GetRaffle", catalog_pb2.GetRaffleRequest(sku_id="py-zodiac"))
        self.assertEqual(hashlib.sha256(raffle.draw.seed).digest(), raffle.seed_sha256)
        score = lambda hold: (hashlib.sha256(raffle.draw.seed + b"\0" + hold.encode()).digest(), hold)
        order = sorted((entry.hold_id for entry in raffle.entries), key=score)
        self.assertEqual(order, list(raffle.draw.order))
        states = [call(inventory_pb2_grpc.InventoryStub, "GetHold", inventory_pb2.GetHoldRequest(hold_id=hold)).state
                  for hold in order]
        self.assertEqual(states, [types_pb2.HOLD_STATE_HELD] * 2 + [types_pb2.HOLD_STATE_WAITLISTED] * 3,
                         "two bottles: the first two drawn hold them, the rest wait in draw order")

    def test_4_a_sale_to_sold_out_with_the_leader_killed_sells_exactly_the_stock(self):
        left = self.availability().sellable_units
        sold = []
        sold_out = []
        retries = []
        lock = threading.Lock()

        def buyer(n: int):
            # One Cluster per buyer thread: gRPC channels are thread-safe, the helper's
            # preferred-node state is not shared.
            cluster = Cluster(self.nodes.addresses.values())
            try:
                for k in range(UNITS):
                    try:
                        cluster.call(inventory_pb2_grpc.InventoryStub, "Reserve",
                                     reserve_request(f"sale-{n}-{k}", f"buyer-{n}-{k}"))
                        with lock:
                            sold.append((n, k))
                    except grpc.RpcError as error:
                        seen = refusal(error)
                        self.assertEqual(seen.reason, "OUT_OF_STOCK", seen)
                        with lock:
                            sold_out.append(n)
                        return
            finally:
                with lock:
                    retries.append(cluster.retries)
                cluster.close()

        leader = self.nodes.leader()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            buyers = [pool.submit(buyer, n) for n in range(8)]
            give_up_at = time.monotonic() + 60
            while len(sold) < left // 3 and not all(b.done() for b in buyers):
                self.assertLess(time.monotonic(), give_up_at, "the sale stalled before the kill")
                time.sleep(0.01)
            self.nodes.kill(leader)
            for done in buyers:
                done.result()
        # Every buyer ended on OUT_OF_STOCK, and exactly the stock was sold, not one unit more.
        self.assertEqual(len(sold_out), 8)
        self.assertEqual(len(sold), left)
        self.assertGreater(sum(retries), 0, "the kill left some calls' outcome open, and they were retried")
        survivors = tuple(n for n in (1, 2, 3) if n != leader)
        self.assertNotEqual(self.nodes.leader(among=survivors), leader)
        self.assertEqual(self.availability().sellable_units, 0)
        # The killed node comes back, catches up and agrees.
        self.nodes.start(leader)
        self.assertEqual(self.nodes.leader(), self.nodes.leader(among=survivors))


if __name__ == "__main__":
    unittest.main()
