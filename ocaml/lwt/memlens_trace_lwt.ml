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

let task name f =
  install ();
  Lwt.with_value key (Some name) f
