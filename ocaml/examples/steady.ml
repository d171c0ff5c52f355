(* A steady program: a bounded working set (a ring of 1,000 buffers) replaced at a constant
   rate. Expected finding: nothing. *)

let ring = Array.make 1000 Bytes.empty
let fill i = Bytes.make 256 (Char.chr (48 + (i mod 10))) [@@inline never]

let () =
  Memlens_trace.trace_if_requested ~context:"steady" ();
  let ticks = try int_of_string Sys.argv.(1) with _ -> 300 in
  for tick = 1 to ticks do
    for i = 1 to 200 do
      let k = (tick * 200 + i) mod Array.length ring in
      ring.(k) <- fill k
    done;
    Unix.sleepf 0.005
  done;
  Printf.printf "done %d\n" (Bytes.length ring.(0))
