using System.Runtime.ExceptionServices;

namespace Dreamer.Parquet;

/// <summary>
/// The CPU workers of one read (MaxDegreeOfParallelism of them), shared by everything it runs at once: row groups
/// decoded ahead, their columns and their pages.
/// <list type="bullet">
/// <item>A row group decodes on one worker (<see cref="EnterAsync"/>); fetching its bytes takes none.</item>
/// <item>A loop (<see cref="For"/>) runs on its caller's thread, which already is a worker, and is joined by helper
/// threads only while workers are free: when it starts or takes an item, and whenever a worker frees up elsewhere
/// (a row group done, another loop out of items) while the loop still has items nobody took.</item>
/// </list>
/// So nested loops never run more threads than workers (the same thread count as a peer given that many), a loop
/// never waits for a queued task to start, and a worker that frees up goes where items are left (say the last,
/// slow row group of a file, or a column's last large page) rather than idling.
/// </summary>
internal sealed class DecodeWorkers
{
    private readonly SemaphoreSlim _free;
    // Loops that may still have items no thread has taken, oldest first: freed workers join them.
    private readonly List<Loop> _open = [];

    /// <param name="workers">Threads that may decode at once.</param>
    /// <param name="callerIsWorker">True when the calling thread counts as one of them (a single row group read on it).</param>
    public DecodeWorkers(int workers, bool callerIsWorker)
    {
        Count = Math.Max(1, workers);
        _free = new SemaphoreSlim(callerIsWorker ? Count - 1 : Count);
    }

    /// <summary>One thread: loops run sequentially on their caller.</summary>
    public static DecodeWorkers Sequential { get; } = new(1, callerIsWorker: true);

    public int Count { get; }

    /// <summary>Waits for a free worker: a row group's decoding starts once one is free (the caller then is it).</summary>
    public Task EnterAsync(CancellationToken ct) => _free.WaitAsync(ct);

    /// <summary>Gives back the worker taken by <see cref="EnterAsync"/>: to a loop with items left, else to the pool of free ones.</summary>
    public void Exit() => Free();

    private void Free()
    {
        Loop? join = null;
        lock (_open)
        {
            foreach (var loop in _open)
                if (loop.HasItemsLeft) { join = loop; break; }
        }
        if (join != null) join.Start();
        else _free.Release();
    }

    private bool TryTakeFree() => _free.CurrentCount > 0 && _free.Wait(0);

    /// <summary>
    /// Runs body(i) for every i in [from, to), on the calling thread and on helpers while workers are free, and
    /// returns once all have run. The first exception thrown by a body (in no particular order) is rethrown.
    /// </summary>
    public void For(int from, int to, Action<int> body)
    {
        if (to - from <= 0) return;
        if (to - from == 1 || Count == 1)
        {
            for (int i = from; i < to; i++) body(i);
            return;
        }
        new Loop(this, from, to, body).Run();
    }

    private sealed class Loop(DecodeWorkers workers, int from, int to, Action<int> body) : IThreadPoolWorkItem
    {
        private int _next = from;
        private int _pending = to - from; // items not done yet: the caller waits for these, never for an idle helper
        private ManualResetEventSlim? _done;
        private Exception? _failure;
        private bool _listed;

        public bool HasItemsLeft => Volatile.Read(ref _next) < to;

        /// <summary>Queues a helper, which holds a worker taken for it and passes it on when it leaves.</summary>
        public void Start() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

        public void Run()
        {
            lock (workers._open)
            {
                workers._open.Add(this);
                _listed = true;
            }
            Work();
            // Helpers may still be running their last items.
            if (Volatile.Read(ref _pending) != 0) Done().Wait();
            if (_failure != null) ExceptionDispatchInfo.Capture(_failure).Throw();
        }

        private ManualResetEventSlim Done() =>
            Volatile.Read(ref _done) ?? Interlocked.CompareExchange(ref _done, new ManualResetEventSlim(), null) ?? _done!;

        private void Complete(int items)
        {
            if (Interlocked.Add(ref _pending, -items) == 0) Done().Set();
        }

        private void Work()
        {
            while (true)
            {
                // Invite a helper while items are left beyond the one this thread takes now and a worker is free.
                if (to - Volatile.Read(ref _next) >= 2 && workers.TryTakeFree()) Start();
                int i = Interlocked.Increment(ref _next) - 1;
                if (i >= to)
                {
                    Unlist();
                    return;
                }
                try { body(i); }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _failure, e, null);
                    // The loop fails anyway: the items nobody started are dropped (and count as done).
                    int next = Interlocked.Exchange(ref _next, int.MaxValue / 2);
                    if (next < to) Complete(to - next);
                }
                Complete(1);
            }
        }

        private void Unlist()
        {
            if (!Volatile.Read(ref _listed)) return;
            lock (workers._open)
            {
                if (_listed) workers._open.Remove(this);
                _listed = false;
            }
        }

        void IThreadPoolWorkItem.Execute()
        {
            try { Work(); }
            finally { workers.Free(); }
        }
    }
}
