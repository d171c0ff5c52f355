(* A steady program: a bounded working set (a ring of 1,000 buffers) replaced at a constant
   rate, with short-lived garbage each tick. Expected finding: nothing. *)

let ring = Array.make 1000 Bytes.empty

let fill i =
  let b = Bytes.make 256 (Char.chr (48 + (i mod 10))) in
  Bytes.unsafe_set b 0 '#';
  b
[@@inline never]

let sum = ref 0

let scratch_work tick =
  let l = List.init 2000 (fun i -> i + tick) in
  sum := !sum + List.fold_left ( + ) 0 l
[@@inline never]

let () =
  Memlens_trace.trace_if_requested ~context:"steady" ();
  let ticks = try int_of_string Sys.argv.(1) with _ -> 1200 in
  for tick = 1 to ticks do
    for i = 1 to 50 do
      let k = (tick * 50 + i) mod Array.length ring in
      ring.(k) <- fill k
    done;
    scratch_work tick;
    Unix.sleepf 0.002
  done;
  Printf.printf "done %d %d\n" (Bytes.length ring.(0)) (!sum land 1)
