"""Request bodies the Python load generator sends: the same bodies, byte for
byte, as the wrk scripts in bench/wrk, with the ids of bench/ids.py (new
envelope ids, rows and inventory ids in every request of every run)."""

from __future__ import annotations

from collections.abc import Callable

from bench.ids import envelope_id, ofs_inventory_id, rowver

PRODUCTS = (
    "CBL-CAT6",
    "FUSE-10A",
    "ONT-G240",
    "CONN-RJ45",
    "SPLIT-1X8",
    "PATCH-2M",
    "STB-4K",
    "ROUTER-AX3",
    "DROP-50M",
    "CLAMP-P",
    "TAPE-INS",
    "SFP-1G",
)
MODULES = ("1001", "1002", "1002", "1003", "1008")
OFS_TYPES = ("MODEM", "CABLE", "ONT", "STB")

Request = tuple[str, str, dict[str, str], bytes]
"""Method, path, headers, body."""
MakeRequest = Callable[[int, int], Request]
"""A request for (client id, request number)."""


def _usage_row(run: int, client: int, n: int, i: int) -> str:
    k = n * 31 + i
    module = MODULES[k % len(MODULES)]
    inq, outq = ("10.0", "0.0") if module == "1001" else ("0.0", "1.0")
    ref = ("WO-" if module == "1002" else "REF-") + envelope_id(run, client, n)
    return (
        f'{{"rowver":"{rowver(run, client, n, i)}","InventoryUsage":{{"UserID":"tech{k % 200}",'
        f'"ModifiedUTC":"2026-11-20T09:15:00Z","RefModule":"{module}","RefObjID":"{ref}",'
        f'"StorageLocations":[{{"StorageLocationID":"TECH_{k % 200:03d}","Items":[{{'
        f'"BatchNum":"","DispositionReasons":[],"InQty":{inq},"InventoryDamagedQty":0.0,'
        f'"InventoryQty":{k % 90}.0,"OutQty":{outq},"ProdNum":"{PRODUCTS[k % len(PRODUCTS)]}",'
        f'"ReportedDamagedQty":0.0,"SerialNum":""}}]}}]}}}}'
    )


def servicemobility(token: str, rows: int, run: int) -> MakeRequest:
    headers = {"Content-Type": "application/json", "x-access-token": token}

    def make(client: int, n: int) -> Request:
        body = (
            f'{{"id":"{envelope_id(run, client, n)}","type":"InventoryUsage","specversion":"1.0",'
            '"source":"5ad09380-8258-4d84-a440-e2d35043ae92","subject":null,'
            '"time":"2026-11-20T09:20:00.000Z","datacontenttype":"application/json","action":"",'
            '"data":{"rowver":"AAAAAAAB9xQ=","rows":['
            + ",".join(_usage_row(run, client, n, i) for i in range(1, rows + 1))
            + "]}}"
        )
        return "POST", "/servicemobility/InventoryUsage/", headers, body.encode()

    return make


def _ofs_event(run: int, client: int, n: int, j: int, per_page: int) -> str:
    k = (n - 1) * per_page + j
    inventory = ofs_inventory_id(run, client, k)
    kind, status, extra = "resourceInventoryCreated", "resource", ""
    if j % 3:
        kind, status = ("inventoryInstalled", "installed")
        if j % 3 == 2:
            kind, status = "customerInventoryCreated", "customer"
        extra = (
            f'"activityDetails":{{"activityId":{4000000 + k % 50000},'
            f'"resourceId":"TECH_{k % 200:03d}","date":"2026-11-20","apptNumber":"WO-{k}",'
            f'"customerNumber":"C-{k % 5000}"}},'
        )
    kind_of = OFS_TYPES[k % len(OFS_TYPES)]
    return (
        f'{{"eventType":"{kind}","time":"2026-11-20 09:{k % 60:02d}:{j % 60:02d}",'
        f'"user":"tech{k % 200}",{extra}"inventoryDetails":{{"inventoryId":{inventory},'
        f'"inventoryType":"{kind_of}","serialNumber":"SN-{inventory}","status":"{status}"}},'
        f'"inventoryChanges":{{"inventoryId":{inventory},"status":"{status}",'
        f'"resourceId":"TECH_{k % 200:03d}","inventoryType":"{kind_of}",'
        f'"serialNumber":"SN-{inventory}"}}}}'
    )


def ofs(token: str, per_page: int, run: int) -> MakeRequest:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def make(client: int, n: int) -> Request:
        items = ",".join(_ofs_event(run, client, n, j, per_page) for j in range(1, per_page + 1))
        body = f'{{"found":true,"nextPage":"{run}-{client}-{n}","items":[{items}]}}'
        return "POST", "/ofs/events", headers, body.encode()

    return make


def rotating(token: str, paths: list[str]) -> MakeRequest:
    headers = {"Authorization": f"Bearer {token}"}

    def make(client: int, n: int) -> Request:
        return "GET", paths[(client * 7919 + n) % len(paths)], headers, b""

    return make
