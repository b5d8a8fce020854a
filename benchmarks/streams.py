"""Seeded synthetic streams of normalized process events, shaped like an XP/2003 Security log.

What a stream looks like, and why:

* Several hosts (4 by default), each with its own clock, record numbers and pid space; their
  events are merged by time, as a collector that timestamps arrivals would hand them over, so
  consecutive events usually come from different hosts.
* Every process starts with a 592 (``CREATED``, ``own_account=False``, user SYSTEM: a 592 names
  its creator's primary token), gets a 600 (``TOKEN_ASSIGNED``, naming the assigning process and
  its image) about one time in five, and ends with a 593 (``EXITED``). About 2 % never log an
  exit: their 593 was lost, so their pid is free again and is soon reused by another process.
* Pids are multiples of 4, taken first-in first-out from a small free pool, so a pid names a new
  process a couple of hundred creations (tens of seconds) after the old one exited, as Windows
  does. A few long-lived system processes (System, services.exe, inetinfo.exe, ...) create most
  children; the rest are created by processes of the stream.
* A few hundred processes are open at once; record numbers strictly increase per host (with gaps
  for the other Security events that a real log interleaves); times strictly increase per host
  at a few dozen events per second, in integer nanoseconds at 100 ns resolution (EVTX).
* Host, user, domain and image strings are interned, as a reader that interns them would
  produce, so identity checks on hosts behave as they would in production.

The same seed and arguments always give the same events.
"""

from __future__ import annotations

import heapq
import random
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from correlog import EventKind, Layout, ProcessEvent

__all__ = [
    "DEFAULT_EVENTS",
    "DEFAULT_HOSTS",
    "Stream",
    "churn_events",
    "make_stream",
]

#: About a million events unless told otherwise.
DEFAULT_EVENTS = 1_000_000
DEFAULT_HOSTS = 4

_NS = 1_000_000_000
#: 2003-03-04T09:00:00Z: the streams are Windows Server 2003 logs.
_BASE_TIME = 1_046_768_400 * _NS
_TICK = 100  # EVTX time resolution, ns

_CREATED = EventKind.CREATED
_TOKEN = EventKind.TOKEN_ASSIGNED
_EXITED = EventKind.EXITED
_XP = Layout.XP_2003
_SYSTEM_LOGON = 0x3E7
_new_event = tuple.__new__

_HOST_NAMES = ("iis01", "dc01", "sql01", "ws0042", "file01", "ws0107", "print01", "ws0311")

# Long-lived processes that create most children; never created or ended in the stream.
_ROOT_IMAGES = (
    "C:\\WINDOWS\\system32\\services.exe",
    "C:\\WINDOWS\\system32\\svchost.exe",
    "C:\\WINDOWS\\system32\\inetsrv\\inetinfo.exe",
    "C:\\WINDOWS\\system32\\winlogon.exe",
    "C:\\WINDOWS\\explorer.exe",
    "C:\\WINDOWS\\system32\\taskmgr.exe",
)

_IMAGES = (
    "C:\\WINDOWS\\system32\\cmd.exe",
    "C:\\WINDOWS\\system32\\svchost.exe",
    "C:\\WINDOWS\\system32\\dllhost.exe",
    "C:\\WINDOWS\\system32\\wbem\\wmiprvse.exe",
    "C:\\WINDOWS\\system32\\inetsrv\\w3wp.exe",
    "C:\\WINDOWS\\system32\\net.exe",
    "C:\\WINDOWS\\system32\\net1.exe",
    "C:\\WINDOWS\\system32\\ping.exe",
    "C:\\WINDOWS\\system32\\ipconfig.exe",
    "C:\\WINDOWS\\system32\\cscript.exe",
    "C:\\WINDOWS\\system32\\wscript.exe",
    "C:\\WINDOWS\\system32\\rundll32.exe",
    "C:\\WINDOWS\\system32\\regsvr32.exe",
    "C:\\WINDOWS\\system32\\msiexec.exe",
    "C:\\WINDOWS\\system32\\spoolsv.exe",
    "C:\\WINDOWS\\system32\\notepad.exe",
    "C:\\WINDOWS\\system32\\ntbackup.exe",
    "C:\\WINDOWS\\system32\\wuauclt.exe",
    "C:\\WINDOWS\\system32\\schtasks.exe",
    "C:\\WINDOWS\\system32\\at.exe",
    "C:\\WINDOWS\\system32\\find.exe",
    "C:\\WINDOWS\\system32\\findstr.exe",
    "C:\\WINDOWS\\system32\\xcopy.exe",
    "C:\\WINDOWS\\system32\\tasklist.exe",
    "C:\\WINDOWS\\system32\\reg.exe",
    "C:\\WINDOWS\\system32\\sc.exe",
    "C:\\WINDOWS\\system32\\netstat.exe",
    "C:\\WINDOWS\\system32\\conime.exe",
    "C:\\WINDOWS\\system32\\logonui.exe",
    "C:\\WINDOWS\\system32\\userinit.exe",
    "C:\\Program Files\\Microsoft SQL Server\\MSSQL\\Binn\\sqlservr.exe",
    "C:\\Program Files\\Microsoft SQL Server\\80\\Tools\\Binn\\osql.exe",
    "C:\\Program Files\\Internet Explorer\\iexplore.exe",
    "C:\\Program Files\\Common Files\\System\\Ole DB\\oledb32.exe",
    "C:\\Inetpub\\scripts\\upload.exe",
    "C:\\Inetpub\\wwwroot\\cgi-bin\\search.exe",
    "C:\\Perl\\bin\\perl.exe",
    "C:\\PHP\\php-cgi.exe",
)


@dataclass(frozen=True, slots=True)
class Stream:
    """A generated stream and what is known about it (for the checks)."""

    #: The events, in the order a consumer sees them.
    events: list[ProcessEvent]
    #: Processes created in the stream: a correlator fed it and closed emits this many records.
    processes: int
    #: The host names, interned.
    hosts: tuple[str, ...]

    def batches(self, size: int) -> list[list[ProcessEvent]]:
        """The events cut into lists of ``size`` (the last may be shorter)."""
        ev = self.events
        return [ev[i : i + size] for i in range(0, len(ev), size)]


class _Proc:
    """A process alive in the simulation."""

    __slots__ = ("creator_image", "creator_pid", "image", "lost", "owner", "pid", "token")

    def __init__(
        self,
        *,
        pid: int,
        image: str,
        creator_pid: int,
        creator_image: str,
        owner: tuple[str, str, int],
        token: tuple[str, str, int] | None,
        lost: bool,
    ) -> None:
        self.pid = pid
        self.image = image
        self.creator_pid = creator_pid
        self.creator_image = creator_image
        #: Its own token's account (user, domain, logon id), which its 593 names.
        self.owner = owner
        #: The account a 600 is still to assign; None: no 600 to come.
        self.token = token
        self.lost = lost


class _HostSim:
    """One host: its clock, record numbers, pid pool and live processes."""

    def __init__(
        self,
        rng: random.Random,
        name: str,
        *,
        open_target: int,
        mean_gap_ns: float,
        token_share: float,
        lost_share: float,
        spare_pids: int,
    ) -> None:
        self.rng = rng
        self.name = sys.intern(name)
        self.open_target = open_target
        self.mean_gap_ns = mean_gap_ns
        self.token_share = token_share
        self.lost_share = lost_share
        #: Time and record number of the host's next event, drawn ahead so that hosts can be
        #: merged by time.
        self.next_time = _BASE_TIME + rng.randrange(0, _NS, _TICK)
        self.next_record = rng.randrange(1, 500_000)
        # Pids 4, 8, ... belong to the long-lived roots; the pool holds the rest.
        self.roots = [(4 * (i + 1), sys.intern(img)) for i, img in enumerate(_ROOT_IMAGES)]
        first = 4 * (len(self.roots) + 1)
        pool = list(range(first, first + 4 * (2 * open_target + spare_pids), 4))
        rng.shuffle(pool)
        self.free: deque[int] = deque(pool)
        self.next_pid = first + 4 * len(pool)
        self.live: list[_Proc] = []
        self.processes = 0
        iusr = sys.intern("IUSR_" + name.upper())
        local = sys.intern(name.upper())
        nt = sys.intern("NT AUTHORITY")
        corp = sys.intern("CORP")
        # Accounts a 600 assigns: IIS's anonymous user, service accounts, domain accounts.
        self.accounts = (
            (iusr, local, 0x1_0000 + rng.randrange(0x10000)),
            (iusr, local, 0x1_0000 + rng.randrange(0x10000)),
            (sys.intern("NETWORK SERVICE"), nt, 0x3E4),
            (sys.intern("LOCAL SERVICE"), nt, 0x3E5),
            (sys.intern("svc_sql"), corp, 0x2_0000 + rng.randrange(0x10000)),
            (sys.intern("administrator"), corp, 0x3_0000 + rng.randrange(0x10000)),
        )
        self.system = (sys.intern("SYSTEM"), nt, _SYSTEM_LOGON)
        self.images = tuple(sys.intern(img) for img in _IMAGES)

    def _tick(self) -> tuple[int, int]:
        """Take the pending time and record number; draw the next ones."""
        rng = self.rng
        t, rn = self.next_time, self.next_record
        gap = int(rng.expovariate(1.0 / self.mean_gap_ns)) // _TICK * _TICK
        self.next_time = t + max(gap, _TICK)
        # Other Security events (logons, object access) take record numbers in between.
        self.next_record = rn + (1 if rng.random() < 0.7 else 1 + int(rng.expovariate(0.25)))
        return t, rn

    def step(self) -> ProcessEvent:
        """The host's next event, at ``next_time``."""
        rng = self.rng
        live = self.live
        while True:
            # At the target open count half the steps create; below it more do. In balance
            # each creation is followed by ~1.2 other steps, so about 1.2 x target stay alive.
            n = len(live)
            if not live or rng.random() * (self.open_target + n) < self.open_target:
                return self._create()
            i = rng.randrange(n)
            proc = live[i]
            if proc.token is not None:
                return self._token(proc)
            # The process ends: drop it (swap with the last, pop), free its pid.
            live[i] = live[-1]
            live.pop()
            self.free.append(proc.pid)
            if proc.lost:
                continue  # its 593 never reached the log
            return self._exit(proc)

    def _create(self) -> ProcessEvent:
        rng = self.rng
        live = self.live
        if self.free:
            pid = self.free.popleft()
        else:
            pid = self.next_pid
            self.next_pid += 4
        if live and rng.random() < 0.4:
            creator = live[rng.randrange(len(live))]
            cpid, cimage = creator.pid, creator.image
        else:
            cpid, cimage = self.roots[rng.randrange(len(self.roots))]
        account = self.accounts[rng.randrange(len(self.accounts))]
        proc = _Proc(
            pid=pid,
            image=self.images[rng.randrange(len(self.images))],
            creator_pid=cpid,
            creator_image=cimage,
            owner=self.system,
            token=account if rng.random() < self.token_share else None,
            lost=rng.random() < self.lost_share,
        )
        live.append(proc)
        self.processes += 1
        t, rn = self._tick()
        user, domain, logon = self.system
        return ProcessEvent(
            kind=_CREATED,
            host=self.name,
            pid=pid,
            time=t,
            event_id=592,
            record_number=rn,
            image=proc.image,
            user=user,
            domain=domain,
            logon_id=logon,
            own_account=False,
            creator_pid=cpid,
            creator_image=None,  # a 592 does not name its creator's image
            layout=_XP,
        )

    def _token(self, proc: _Proc) -> ProcessEvent:
        assert proc.token is not None
        user, domain, logon = proc.owner = proc.token
        proc.token = None
        t, rn = self._tick()
        return ProcessEvent(
            kind=_TOKEN,
            host=self.name,
            pid=proc.pid,
            time=t,
            event_id=600,
            record_number=rn,
            image=proc.image,
            user=user,
            domain=domain,
            logon_id=logon,
            own_account=True,
            creator_pid=proc.creator_pid,
            creator_image=proc.creator_image,
            layout=_XP,
        )

    def _exit(self, proc: _Proc) -> ProcessEvent:
        user, domain, logon = proc.owner
        t, rn = self._tick()
        return ProcessEvent(
            kind=_EXITED,
            host=self.name,
            pid=proc.pid,
            time=t,
            event_id=593,
            record_number=rn,
            image=proc.image,
            user=user,
            domain=domain,
            logon_id=logon,
            own_account=True,
            layout=_XP,
        )


def _simulators(
    hosts: int,
    seed: int,
    open_target: int,
    events_per_second: float,
    token_share: float,
    lost_share: float,
    spare_pids: int,
) -> list[_HostSim]:
    if hosts < 1 or open_target < hosts:
        raise ValueError("need hosts >= 1 and open_target >= hosts")
    rng = random.Random(seed)
    names = [_HOST_NAMES[i] if i < len(_HOST_NAMES) else f"ws{1000 + i:04d}" for i in range(hosts)]
    weights = [rng.uniform(1.0, 3.0) for _ in names]
    total = sum(weights)
    return [
        _HostSim(
            random.Random(rng.getrandbits(64)),
            name,
            open_target=max(1, round(open_target * weight / total)),
            mean_gap_ns=_NS / (events_per_second * weight / total),
            token_share=token_share,
            lost_share=lost_share,
            spare_pids=spare_pids,
        )
        for name, weight in zip(names, weights, strict=True)
    ]


def _merged(sims: list[_HostSim], n_events: int | None) -> Iterator[ProcessEvent]:
    """The hosts' events merged by time: each host's next event is generated when it comes due."""
    heap = [(sim.next_time, i) for i, sim in enumerate(sims)]
    heapq.heapify(heap)
    n = 0
    while n_events is None or n < n_events:
        i = heap[0][1]
        sim = sims[i]
        yield sim.step()
        heapq.heapreplace(heap, (sim.next_time, i))
        n += 1


def make_stream(
    n_events: int = DEFAULT_EVENTS,
    *,
    hosts: int = DEFAULT_HOSTS,
    seed: int = 592,
    open_target: int = 300,
    events_per_second: float = 100.0,
    token_share: float = 0.2,
    lost_share: float = 0.02,
    spare_pids: int = 200,
) -> Stream:
    """Generate ``n_events`` events over ``hosts`` hosts; the same arguments give the same stream.

    ``open_target``: processes open at once over all hosts (about 1.2 x this many stay alive).
    ``events_per_second``: the pace over all hosts; hosts differ (the busiest about 3 x the
    quietest). ``token_share`` of processes get a 600, ``lost_share`` never log their exit.
    ``spare_pids``: free pids per host beyond the live ones; a freed pid is reused after about
    that many creations.
    """
    if n_events < 0:
        raise ValueError("need n_events >= 0")
    sims = _simulators(
        hosts, seed, open_target, events_per_second, token_share, lost_share, spare_pids
    )
    events = list(_merged(sims, n_events))
    return Stream(
        events=events,
        processes=sum(sim.processes for sim in sims),
        hosts=tuple(sim.name for sim in sims),
    )


def _fresh(text: str) -> str:
    """A new string object equal to ``text`` (what a reader that does not intern hands over)."""
    return (text + ".")[:-1]


def churn_events(
    n_events: int | None = None,
    *,
    hosts: int = DEFAULT_HOSTS,
    seed: int = 600,
    exit_share: float = 0.1,
    token_share: float = 0.2,
    delay: int = 200,
    events_per_second: float = 100.0,
    intern: bool = True,
) -> Iterator[ProcessEvent]:
    """A lazy stream where most processes never exit: the open set only grows.

    Each step either emits a follow-up that has come due (the 600 of a process that gets a
    token, ``token_share``; the 593 of one that exits, ``exit_share``; each due within about
    ``delay`` steps of its creation), or creates a new process with a **fresh** pid (a per-host
    counter, never reused), so an entry that is not closed by its exit stays open until the
    correlator expires or evicts it. A correlator with a ``max_open`` below the number of
    never-exiting processes evicts on nearly every creation; the generator itself holds only
    the pending follow-ups (about ``delay`` x the shares), so any length runs in constant memory.

    Hosts take turns at random; each has its own clock (``events_per_second`` over all hosts)
    and strictly increasing record numbers. ``intern=False`` gives every event its own copies
    of the host, image, user and domain strings, as a reader that does not intern would.
    Endless when ``n_events`` is None; the same arguments give the same events.
    """
    rng = random.Random(seed)
    names = tuple(sys.intern(name) for name in _HOST_NAMES[:hosts]) + tuple(
        sys.intern(f"ws{1000 + i:04d}") for i in range(len(_HOST_NAMES), hosts)
    )
    images = tuple(sys.intern(img) for img in _IMAGES)
    nt = sys.intern("NT AUTHORITY")
    system = (sys.intern("SYSTEM"), nt, _SYSTEM_LOGON)
    accounts = tuple(
        (sys.intern(f"IUSR_{name.upper()}"), sys.intern(name.upper()), 0x1_0000 + 16 * i)
        for i, name in enumerate(names)
    )
    gap = int(_NS * hosts / events_per_second) // _TICK * _TICK
    clocks = [_BASE_TIME + rng.randrange(0, _NS, _TICK) for _ in names]
    records = [rng.randrange(1, 500_000) for _ in names]
    next_pid = [4 * 16] * hosts
    same: Callable[[str], str] = (lambda text: text) if intern else _fresh
    # (due step, sequence, host index, kind, pid, image, account): follow-ups in due order.
    pending: list[tuple[int, int, int, EventKind, int, str, tuple[str, str, int]]] = []
    step = 0
    seq = 0
    rand = rng.random
    n_images = len(images)
    assigner = sys.intern(_ROOT_IMAGES[2])
    sys_user, sys_domain, sys_logon = system
    # Positional construction (tuple.__new__) is several times faster than keywords; the
    # smoke tests check the events are well-formed ProcessEvents.
    while n_events is None or step < n_events:
        if pending and pending[0][0] <= step:
            _, _, h, kind, pid, image, (user, domain, logon) = heapq.heappop(pending)
            clocks[h] += gap
            records[h] += 1
            token = kind is _TOKEN
            yield _new_event(
                ProcessEvent,
                (
                    kind,
                    same(names[h]),
                    pid,
                    clocks[h],
                    600 if token else 593,
                    records[h],
                    same(image),
                    same(user),
                    same(domain),
                    logon,
                    True,
                    4 if token else None,
                    assigner if token else None,
                    _XP,
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
            )
        else:
            h = int(rand() * hosts)
            clocks[h] += gap
            records[h] += 1
            pid = next_pid[h]
            next_pid[h] = pid + 4
            image = images[int(rand() * n_images)]
            owner = system
            if rand() < token_share:
                owner = accounts[h]
                seq += 1
                due = step + 1 + int(rand() * (delay // 4 + 1))
                heapq.heappush(pending, (due, seq, h, _TOKEN, pid, image, owner))
            if rand() < exit_share:
                seq += 1
                due = step + delay // 4 + 2 + int(rand() * delay)
                heapq.heappush(pending, (due, seq, h, _EXITED, pid, image, owner))
            yield _new_event(
                ProcessEvent,
                (
                    _CREATED,
                    same(names[h]),
                    pid,
                    clocks[h],
                    592,
                    records[h],
                    same(image),
                    same(sys_user),
                    same(sys_domain),
                    sys_logon,
                    False,
                    4,
                    None,
                    _XP,
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
            )
        step += 1
