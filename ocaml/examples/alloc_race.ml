(* An allocation race: a producer enqueues messages, a consumer drains them. For a while the
   producer runs three times faster than the consumer, so memory piles up although every
   message is eventually freed; then the consumer catches up, the queue drains over most of the
   rest of the run and the program ends in a steady state. Short-lived garbage each tick keeps the GC cycling,
   as in a real server.
   Expected finding: one race window over the fast phase, at [make_message]; no leak. *)

let queue : Bytes.t Queue.t = Queue.create ()

(* Not a tail call: the frame of [make_message] stays on the stack when Bytes.make samples. *)
let make_message i =
  let m = Bytes.make 512 (Char.chr (97 + (i mod 26))) in
  Bytes.unsafe_set m 1 '!';
  m
[@@inline never]

let checksum = ref 0

let consume k =
  let k = min k (Queue.length queue) in
  for _ = 1 to k do
    let m = Queue.pop queue in
    checksum := !checksum + Char.code (Bytes.get m 0)
  done

let scratch_work tick =
  let l = List.init 2000 (fun i -> i + tick) in
  checksum := !checksum + List.fold_left ( + ) 0 l
[@@inline never]

let () =
  Memlens_trace.trace_if_requested ~context:"alloc_race" ();
  let ticks = try int_of_string Sys.argv.(1) with _ -> 1200 in
  (* ticks: a quarter steady, a quarter racing, then catch-up and steady again *)
  let race_from = ticks / 4 and race_to = ticks / 2 in
  for tick = 1 to ticks do
    let racing = tick > race_from && tick <= race_to in
    let produced = if racing then 150 else 50 in
    for i = 1 to produced do Queue.push (make_message (tick + i)) queue done;
    (* The consumer then drains the backlog gradually, a little faster than the producer. *)
    consume (if racing then 50 else 110);
    scratch_work tick;
    (* A full major cycle every 20 ticks, as a server with a GC policy of its own would run:
       without it, OCaml's incremental major GC collects the whole backlog in one late sweep, and
       the trace cannot tell the drained backlog from garbage waiting for that sweep. *)
    if tick mod 20 = 0 then Gc.full_major ();
    Unix.sleepf 0.002
  done;
  Printf.printf "done, checksum %d, queue %d\n" !checksum (Queue.length queue)
