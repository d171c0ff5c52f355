(* An Lwt server simulation with a leak: each request builds a response, and a cache that
   never evicts keeps every response. Temporary parsing garbage is freed as usual.
   Expected finding: a leak at [remember_response]; nothing else grows. *)

let cache : (int, Bytes.t) Hashtbl.t = Hashtbl.create 1024

let parse_request id =
  (* short-lived garbage: collected young *)
  let fields = List.init 32 (fun i -> string_of_int (id * 31 + i)) in
  List.length fields

let remember_response id response = Hashtbl.replace cache id response [@@inline never]

let build_response id size =
  let r = Bytes.make size (Char.chr (65 + (id mod 26))) in
  Bytes.unsafe_set r 0 '<';
  r
[@@inline never]

let handle id =
  let open Lwt.Syntax in
  let* () = Lwt.pause () in
  let n = parse_request id in
  let response = build_response id (200 + n) in
  remember_response id response;
  Lwt.return_unit

let () =
  Memlens_trace.trace_if_requested ~context:"leak_server" ();
  let requests = try int_of_string Sys.argv.(1) with _ -> 40_000 in
  let rec serve i =
    let open Lwt.Syntax in
    if i >= requests then Lwt.return_unit
    else
      let* () = Memlens_trace_lwt.task "request handler" (fun () -> handle i) in
      let* () = if i mod 500 = 0 then Lwt_unix.sleep 0.01 else Lwt.return_unit in
      serve (i + 1)
  in
  Lwt_main.run (serve 0);
  Printf.printf "served %d requests, cache holds %d responses\n" requests (Hashtbl.length cache)
