(* A steady program: a fixed working set built once at start (1,000 buffers), then at a constant
   rate requests whose allocations all die young. Expected finding: nothing. *)

let working_set = Array.init 1000 (fun i -> Bytes.make 256 (Char.chr (48 + (i mod 10))))

let handle tick =
  (* temporary buffers and a list, garbage before the next minor collection *)
  let b = Bytes.make 256 (Char.chr (48 + (tick mod 10))) in
  Bytes.unsafe_set b 0 '#';
  let l = List.init 200 (fun i -> i + tick) in
  Bytes.length b + List.fold_left ( + ) 0 l + Bytes.length working_set.(tick mod 1000)
[@@inline never]

let () =
  Memlens_trace.trace_if_requested ~context:"steady" ();
  let ticks = try int_of_string Sys.argv.(1) with _ -> 1200 in
  let sum = ref 0 in
  for tick = 1 to ticks do
    for _ = 1 to 50 do sum := !sum + handle tick done;
    Unix.sleepf 0.002
  done;
  Printf.printf "done %d\n" (!sum land 1)
