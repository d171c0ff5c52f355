let default_sampling_rate = 1e-5
let task_frame_filename = "(memlens task)"

type state = {
  writer : Trace_writer.t;
  (* Memprof callbacks allocate; a signal can arrive inside one. Then the stop is only
     requested, and performed when the callback returns, so a packet is never cut in half. *)
  mutable in_callback : bool;
  mutable stop_requested : (unit -> unit) option;
}

let current : state option ref = ref None
let task_provider : (unit -> string option) ref = ref (fun () -> None)
let set_task_provider f = task_provider := f
let is_tracing () = !current <> None

(* Synthetic task frames get codes far above any user-space code address (x86-64 and
   arm64 user space ends below 2^48), so they can never collide with a real frame. *)
let task_code_base = 0x3f00_0000_0000_0000
let task_codes : (string, int) Hashtbl.t = Hashtbl.create 64
let task_names : (int, string) Hashtbl.t = Hashtbl.create 64

let task_code name =
  match Hashtbl.find_opt task_codes name with
  | Some c -> c
  | None ->
      let c = task_code_base + Hashtbl.length task_codes in
      Hashtbl.add task_codes name c;
      Hashtbl.add task_names c name;
      c

(* Printexc gives one slot per inlined frame for a code, innermost first; each becomes one
   location. The format lists them caller first, as memtrace's writer does, so reverse. *)
let describe code : Trace_writer.location list =
  match Hashtbl.find_opt task_names code with
  | Some name -> [ { filename = task_frame_filename; line = 0; start_char = 0; end_char = 0; defname = name } ]
  | None -> (
      let entry : Printexc.raw_backtrace_entry = Obj.magic code in
      match Printexc.backtrace_slots_of_raw_entry entry with
      | None -> []
      | Some slots ->
          List.rev (Array.to_list slots)
          |> List.filter_map (fun slot ->
                 match Printexc.Slot.location slot with
                 | None -> None
                 | Some (l : Printexc.location) ->
                     let defname = Option.value (Printexc.Slot.name slot) ~default:"" in
                     Some
                       {
                         Trace_writer.filename = l.filename;
                         line = l.line_number;
                         start_char = l.start_char;
                         end_char = l.end_char;
                         defname;
                       }))

let frames_of (info : Gc.Memprof.allocation) =
  let entries = Printexc.raw_backtrace_entries info.callstack in
  (* Printexc lists the innermost frame first; the trace wants callers first. *)
  let n = Array.length entries in
  let codes = Array.init n (fun i -> (Obj.magic entries.(n - 1 - i) : int)) in
  match !task_provider () with
  | None -> codes
  | Some name -> Array.append [| task_code name |] codes

let guarded st f =
  st.in_callback <- true;
  let r = try f () with e -> st.in_callback <- false; raise e in
  st.in_callback <- false;
  (match st.stop_requested with
   | Some k -> st.stop_requested <- None; k ()
   | None -> ());
  r

let on_alloc st source (info : Gc.Memprof.allocation) =
  guarded st (fun () ->
      let frames = frames_of info in
      Some
        (Trace_writer.alloc st.writer ~source ~length_words:info.size ~samples:info.n_samples
           ~frames ~describe))

(* Exact task counts (Memlens_trace_lwt.count_tasks), written when tracing stops.

   Encoding: one location event (event 1) per task, for a code that no backtrace refers to, whose
   single location has the file name [task_count_filename] and the function name
   "<started> <finished> <task name>". Why not a new event type: memtrace's reader fails on an
   event id it does not know ("Unknown event code", event_of_code in its src/trace.ml), and the format has no free field for
   records of our own; a location event for an unused code is valid in every format version, is
   skipped by readers that do not look for it (memtrace's viewer never shows a code no sample
   uses), and old traces simply have none. The codes sit above the task frames' codes, far
   above any user-space code address. *)
let task_count_filename = "(memlens task count)"
let task_count_code_base = 0x3f80_0000_0000_0000
let task_counts : (unit -> (string * int * int) list) ref = ref (fun () -> [])
let set_task_counts f = task_counts := f

let write_task_counts st =
  List.iteri
    (fun i (name, started, finished) ->
      Trace_writer.metadata st.writer ~code:(task_count_code_base + i) ~filename:task_count_filename
        ~defname:(Printf.sprintf "%d %d %s" started finished name))
    (try !task_counts () with _ -> [])

let stop () =
  match !current with
  | None -> ()
  | Some st ->
      current := None;
      Gc.Memprof.stop ();
      write_task_counts st;
      Trace_writer.close st.writer

let install_signal_flush st signal =
  let previous = ref Sys.Signal_default in
  let handle signo =
    let finish () =
      stop ();
      match !previous with
      | Sys.Signal_handle f -> f signo
      | Sys.Signal_ignore -> ()
      | Sys.Signal_default ->
          (* Exit as the signal would have ended us: 128 + its number. *)
          let n = if signo = Sys.sigterm then 15 else if signo = Sys.sigint then 2 else 1 in
          exit (128 + n)
    in
    if st.in_callback then st.stop_requested <- Some finish else finish ()
  in
  previous := Sys.signal signal (Sys.Signal_handle handle)

let start ?(sampling_rate = default_sampling_rate) ?(context = "") path =
  if !current <> None then failwith "Memlens_trace.start: already tracing";
  let writer = Trace_writer.create ~path ~sample_rate:sampling_rate ~executable:Sys.executable_name ~context in
  let st = { writer; in_callback = false; stop_requested = None } in
  current := Some st;
  install_signal_flush st Sys.sigterm;
  install_signal_flush st Sys.sigint;
  at_exit stop;
  let object_event f = fun id -> guarded st (fun () -> f st.writer id) in
  Gc.Memprof.start ~sampling_rate ~callstack_size:max_int
    {
      Gc.Memprof.alloc_minor = on_alloc st Trace_writer.Minor;
      alloc_major = on_alloc st Trace_writer.Major;
      promote = (fun id -> object_event Trace_writer.promote id; Some id);
      dealloc_minor = object_event Trace_writer.collect;
      dealloc_major = object_event Trace_writer.collect;
    }

let trace_if_requested ?context () =
  match Sys.getenv_opt "MEMLENS_TRACE" with
  | None | Some "" -> ()
  | Some path ->
      let sampling_rate =
        match Sys.getenv_opt "MEMLENS_TRACE_RATE" with
        | None | Some "" -> default_sampling_rate
        | Some s -> (
            match float_of_string_opt s with
            | Some r when r > 0. && r <= 1. -> r
            | _ -> failwith ("MEMLENS_TRACE_RATE: not a rate in (0, 1]: " ^ s))
      in
      start ~sampling_rate ?context path
