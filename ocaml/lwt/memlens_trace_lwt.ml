(* Lwt's sequence-associated storage (Lwt.new_key / with_value / get) is deprecated in Lwt's
   documentation because it only follows bind-like combinators, which is exactly the scope
   we want here: the callbacks a task registered. *)
[@@@ocaml.warning "-3"]

let key : string Lwt.key = Lwt.new_key ()
let current_task () = Lwt.get key
let installed = ref false

let install () =
  if not !installed then begin
    installed := true;
    Memlens_trace.set_task_provider current_task
  end

(* Exact counts, when asked for: task name -> (started, finished). A task is finished when the
   promise [f ()] returned is resolved (fulfilled or rejected, or cancelled). *)
let counts : (string, int ref * int ref) Hashtbl.t = Hashtbl.create 16
let counting = ref false

let count_tasks () =
  if not !counting then begin
    counting := true;
    Memlens_trace.set_task_counts (fun () ->
        Hashtbl.fold (fun name (s, f) acc -> (name, !s, !f) :: acc) counts []
        |> List.sort compare)
  end

let task_counts () = Hashtbl.fold (fun name (s, f) acc -> (name, !s, !f) :: acc) counts [] |> List.sort compare

let task name f =
  install ();
  if not !counting then Lwt.with_value key (Some name) f
  else begin
    let started, finished =
      match Hashtbl.find_opt counts name with
      | Some c -> c
      | None ->
          let c = (ref 0, ref 0) in
          Hashtbl.add counts name c;
          c
    in
    incr started;
    let p = Lwt.with_value key (Some name) f in
    Lwt.on_termination p (fun () -> incr finished);
    p
  end
