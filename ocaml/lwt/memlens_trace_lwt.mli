(** Attributes allocations to the Lwt task that led to them.

    Lwt runs callbacks from its scheduler, so the code that created a promise is usually not
    on the stack when its callback allocates. A task started with {!task} carries its name in
    an Lwt storage key, which Lwt saves when a callback is registered and restores when it
    runs; every sample taken meanwhile gets a synthetic root frame naming the task. *)

val task : string -> (unit -> 'a Lwt.t) -> 'a Lwt.t
(** [task name f] runs [f ()] as the task [name]. *)

val current_task : unit -> string option

val install : unit -> unit
(** Makes {!Memlens_trace} consult the current task. Called by {!task}; idempotent. *)

val count_tasks : unit -> unit
(** From now on, counts exactly how many times each named task was started and finished (its
    promise resolved, fulfilled or rejected). The counts are written into the trace when tracing
    stops, so that [memlens memtrace] can check its sampled estimates against them. Costs a
    hash-table lookup and one [Lwt.on_termination] callback per task. *)

val task_counts : unit -> (string * int * int) list
(** The counts so far: (task, started, finished), sorted by task name. *)
