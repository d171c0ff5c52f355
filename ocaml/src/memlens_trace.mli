(** Records the program's allocations with [Gc.Memprof] into a trace in the memtrace format
    (version 2), readable by [memlens memtrace] and by memtrace's own tools.

    Start it from the environment, as memtrace does:
    {[ let () = Memlens_trace.trace_if_requested () ]}
    then run the program with [MEMLENS_TRACE=trace.ctf] (and optionally
    [MEMLENS_TRACE_RATE=1e-5], the sampling rate per allocated word). Or call [start].

    The trace is flushed when tracing stops: on [stop], at exit, and on SIGTERM and SIGINT
    (after which the program exits as those signals would have made it, or runs the handler
    it had installed before).

    Single-threaded programs (including Lwt's main loop) only: [Gc.Memprof] callbacks of
    several systhreads would interleave in the writer. *)

val default_sampling_rate : float
(** 1e-5 samples per word, memtrace's default. *)

val start : ?sampling_rate:float -> ?context:string -> string -> unit
(** [start path] starts recording into [path] (truncated). Raises [Failure] if already started. *)

val stop : unit -> unit
(** Stops recording and flushes the trace. Does nothing when not recording. *)

val trace_if_requested : ?context:string -> unit -> unit
(** Starts recording if [MEMLENS_TRACE] names a file; the rate comes from [MEMLENS_TRACE_RATE]. *)

val is_tracing : unit -> bool

val set_task_provider : (unit -> string option) -> unit
(** The function consulted at each sample for the name of the task that led to the
    allocation (see [Memlens_trace_lwt]). A sample taken while it returns [Some name] gets a
    synthetic root frame: a location whose file name is {!task_frame_filename} and whose
    function name is [name]. *)

val task_frame_filename : string
(** ["(memlens task)"]: the file name of the synthetic root frames that name tasks. *)

val set_task_counts : (unit -> (string * int * int) list) -> unit
(** The function consulted when tracing stops for exact counts [(task, started, finished)] (see
    [Memlens_trace_lwt.count_tasks]). Each is written as a location event for a code that no
    backtrace uses, whose file name is {!task_count_filename} and whose function name is
    ["<started> <finished> <task>"]: readers of the memtrace format that do not look for it
    ignore it. *)

val task_count_filename : string
(** ["(memlens task count)"]. *)
