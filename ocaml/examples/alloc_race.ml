(* An allocation race: for the first phase a producer enqueues messages faster than the
   consumer drains them, so memory grows although every message is eventually freed; then
   the producer slows to the consumer's pace and the queue drains to a steady state.
   Expected finding: a race window over the first phase at [make_message]; no leak. *)

let queue : Bytes.t Queue.t = Queue.create ()
let make_message i = Bytes.make 512 (Char.chr (97 + (i mod 26))) [@@inline never]
let checksum = ref 0

let consume k =
  for _ = 1 to k do
    if not (Queue.is_empty queue) then begin
      let m = Queue.pop queue in
      checksum := !checksum + Char.code (Bytes.get m 0)
    end
  done

let () =
  Memlens_trace.trace_if_requested ~context:"alloc_race" ();
  let ticks = try int_of_string Sys.argv.(1) with _ -> 300 in
  let race_ticks = ticks / 2 in
  for tick = 1 to ticks do
    let produced = if tick <= race_ticks then 300 else 100 in
    for i = 1 to produced do Queue.push (make_message (tick + i)) queue done;
    (* the consumer handles 100 messages a tick; during the race it falls behind *)
    consume (if tick <= race_ticks then 100 else 300);
    Unix.sleepf 0.005
  done;
  consume (Queue.length queue);
  Gc.full_major ();
  Printf.printf "done, checksum %d, queue %d\n" !checksum (Queue.length queue)
