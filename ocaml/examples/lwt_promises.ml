(* An Lwt server simulation whose number of promises is known: each request, run as the task
   "request", creates exactly 4 pending promises at 4 creation sites of this file:
     1. [fetch]:             Lwt.wait ()               (resolved later by the "network" loop)
     2. [handle]:            Lwt.bind on that pending promise
     3. [handle] (callback): Lwt.pause ()              (resolved by Lwt_main's next round)
     4. [handle] (callback): Lwt.map on that pending promise
   Requests arrive in rounds of [batch]; each round's promises are all pending at once, then the
   loop resolves them ([rounds] itself makes more: [Lwt.all] binds once per request, outside the
   task). Expected (memlens memtrace): those 4 creation sites with [requests] promises each
   (estimated), the task "request" started and finished [requests] times (exact counts). *)

let pending : (int Lwt.u * int) list ref = ref []

let fetch id =
  let p, r = Lwt.wait () in
  pending := (r, id) :: !pending;
  p
[@@inline never]

let reply_of v = Bytes.make 40 (Char.chr (65 + (v mod 26))) [@@inline never]

(* [Sys.opaque_identity] after each call keeps them out of tail position, so that [handle] stays
   on the stack (a tail call would leave Lwt's frames directly under the task's). *)
let handle id =
  let p =
    Lwt.bind (fetch id) (fun v ->
        let q = Lwt.map (fun () -> Bytes.length (reply_of v)) (Lwt.pause ()) in
        Sys.opaque_identity q)
  in
  Sys.opaque_identity p
[@@inline never]

let () =
  Memlens_trace.trace_if_requested ~context:"lwt_promises" ();
  Memlens_trace_lwt.count_tasks ();
  let requests = try int_of_string Sys.argv.(1) with _ -> 20_000 in
  let batch = 100 in
  let total = ref 0 in
  let rec rounds started =
    let open Lwt.Syntax in
    if started >= requests then Lwt.return_unit
    else begin
      let n = min batch (requests - started) in
      let replies =
        List.init n (fun k ->
            Memlens_trace_lwt.task "request" (fun () -> handle (started + k)))
      in
      (* the "network": resolve every fetch of this round *)
      let ready = !pending in
      pending := [];
      List.iter (fun (r, id) -> Lwt.wakeup_later r id) ready;
      let* sizes = Lwt.all replies in
      total := List.fold_left ( + ) !total sizes;
      rounds (started + n)
    end
  in
  Lwt_main.run (rounds 0);
  Printf.printf "served %d requests, %d bytes\n" requests !total
