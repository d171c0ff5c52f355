(* Writes a trace in the memtrace format (CTF packets as specified by src/memtrace.tsdl of
   janestreet/memtrace, format version 2), so that memtrace's own tools and memlens can both
   read it. The encoding is deliberately the simplest the format allows:
   - every backtrace frame is a cache miss carrying its literal code (the reader stores
     whatever bucket it is told, so no hashing is needed), common_prefix is always 0;
   - every filename and function name is sent as a new move-to-front entry (code 31);
   - the cache verifier is the dummy triple (0xffff), allocation events use the long form.
   Packets stay under 32 KiB (the reference reader's buffer) and 30 s (25-bit timestamps). *)

let magic = 0xc1fc1fc1
let format_version = 2
let header_bytes = 66 (* v1/v2 packet header *)
let max_packet_bytes = 1 lsl 15
let max_payload_bytes = max_packet_bytes - header_bytes
let max_packet_span_us = 25_000_000 (* under 2^25 µs so event times stay unambiguous *)
let max_frames = 300 (* a long alloc event stays well under the 4096-byte cap *)
let max_string_bytes = 1000

type source = Minor | Major | External

type t = {
  fd : Unix.file_descr;
  pid : int;
  events : Ctf_buf.t;  (* events of the packet being filled *)
  locs : Ctf_buf.t;    (* location events not yet written *)
  scratch : Ctf_buf.t;
  mutable begin_us : int;  (* time of the first pending event; -1 when none *)
  mutable loc_begin_us : int; (* times of the first and last pending location events *)
  mutable loc_end_us : int;
  mutable last_us : int;   (* latest timestamp written, to keep time monotone *)
  mutable packet_alloc_begin : int;
  mutable next_alloc_id : int;
  known_codes : (int, unit) Hashtbl.t;
  mutable next_bucket : int;
  mutable closed : bool;
}

let now_us t =
  let us = Int64.to_int (Int64.of_float (Unix.gettimeofday () *. 1e6)) in
  let us = if us < t.last_us then t.last_us else us in
  t.last_us <- us;
  us

let rec write_all fd s off len =
  if len > 0 then begin
    let n = Unix.write_substring fd s off len in
    write_all fd s (off + n) (len - n)
  end

let write_packet t ~begin_us ~end_us ~alloc_begin ~alloc_end payload =
  let b = Ctf_buf.create (header_bytes + Ctf_buf.length payload) in
  Ctf_buf.u32 b magic;
  Ctf_buf.u32 b ((header_bytes + Ctf_buf.length payload) * 8); (* packet size in bits *)
  Ctf_buf.u64 b begin_us;
  Ctf_buf.u64 b end_us;
  Ctf_buf.u32 b 0; (* flush_duration: always 0 *)
  Ctf_buf.u16 b format_version;
  Ctf_buf.u64 b t.pid;
  Ctf_buf.u16 b 0xffff; (* cache verifier: none *)
  Ctf_buf.u16 b 0;
  Ctf_buf.u64 b 0;
  Ctf_buf.u64 b alloc_begin;
  Ctf_buf.u64 b alloc_end;
  Ctf_buf.add_buffer b payload;
  let s = Ctf_buf.contents b in
  write_all t.fd s 0 (String.length s)

let event_header b ~id ~time_us = Ctf_buf.u32 b ((id lsl 25) lor (time_us land 0x1ffffff))

(* Location packets precede the events packet that first uses their codes and carry an
   empty allocation-id range, as the reference writer's do. *)
let flush_locations t =
  if Ctf_buf.length t.locs > 0 then begin
    write_packet t ~begin_us:t.loc_begin_us ~end_us:t.loc_end_us ~alloc_begin:t.next_alloc_id
      ~alloc_end:t.next_alloc_id t.locs;
    Ctf_buf.clear t.locs
  end

let flush t =
  flush_locations t;
  if Ctf_buf.length t.events > 0 then begin
    write_packet t ~begin_us:t.begin_us ~end_us:t.last_us ~alloc_begin:t.packet_alloc_begin
      ~alloc_end:t.next_alloc_id t.events;
    Ctf_buf.clear t.events
  end;
  t.begin_us <- -1;
  t.packet_alloc_begin <- t.next_alloc_id

let truncate s = if String.length s > max_string_bytes then String.sub s 0 max_string_bytes else s

(* One location record packs 48 bits: line 20, start_char 8, end_char 10, filename code 5,
   defname code 5. Out-of-range columns are clamped to their field width: memtrace <= 0.2.3
   clamped to 12 bits instead, which corrupted the move-to-front codes that follow. *)
let location_record b ~line ~start_char ~end_char ~filename ~defname =
  let clamp v bits = if v < 0 then 0 else min v ((1 lsl bits) - 1) in
  let line = clamp line 20 and sc = clamp start_char 8 and ec = clamp end_char 10 in
  let packed = line lor (sc lsl 20) lor (ec lsl 28) lor (31 lsl 38) lor (31 lsl 43) in
  Ctf_buf.u32 b (packed land 0xffffffff);
  Ctf_buf.u16 b ((packed lsr 32) land 0xffff);
  Ctf_buf.cstring b (truncate filename);
  Ctf_buf.cstring b (truncate defname)

type location = { filename : string; line : int; start_char : int; end_char : int; defname : string }

let add_location_event t code (locations : location list) =
  let b = t.scratch in
  Ctf_buf.clear b;
  let time_us = if t.begin_us >= 0 then t.begin_us else t.last_us in
  event_header b ~id:1 ~time_us;
  Ctf_buf.u64 b code;
  let locations = List.filteri (fun i _ -> i < 255) locations in
  Ctf_buf.u8 b (List.length locations);
  List.iter
    (fun l ->
      location_record b ~line:l.line ~start_char:l.start_char ~end_char:l.end_char
        ~filename:l.filename ~defname:l.defname)
    locations;
  if Ctf_buf.length t.locs + Ctf_buf.length b > max_payload_bytes then flush_locations t;
  if Ctf_buf.length t.locs = 0 then t.loc_begin_us <- time_us;
  t.loc_end_us <- time_us;
  Ctf_buf.add_buffer t.locs b

(* Appends an encoded event (in t.scratch) to the events packet, starting a new packet when
   this one is full or spans too long. *)
let append_event t time_us =
  if Ctf_buf.length t.events > 0
     && (Ctf_buf.length t.events + Ctf_buf.length t.scratch > max_payload_bytes
        || time_us - t.begin_us > max_packet_span_us)
  then flush t;
  if t.begin_us < 0 then t.begin_us <- time_us;
  Ctf_buf.add_buffer t.events t.scratch

let create ~path ~sample_rate ~executable ~context =
  let fd = Unix.openfile path [ Unix.O_WRONLY; Unix.O_CREAT; Unix.O_TRUNC; Unix.O_CLOEXEC ] 0o644 in
  let t =
    {
      fd;
      pid = Unix.getpid ();
      events = Ctf_buf.create max_packet_bytes;
      locs = Ctf_buf.create max_packet_bytes;
      scratch = Ctf_buf.create 4096;
      begin_us = -1;
      loc_begin_us = 0;
      loc_end_us = 0;
      last_us = 0;
      packet_alloc_begin = 0;
      next_alloc_id = 0;
      known_codes = Hashtbl.create 4096;
      next_bucket = 0;
      closed = false;
    }
  in
  (* The first packet holds only trace_info (event 0), stamped with the packet's start. *)
  let time_us = now_us t in
  let b = Ctf_buf.create 512 in
  event_header b ~id:0 ~time_us;
  Ctf_buf.f64 b sample_rate;
  Ctf_buf.u8 b Sys.word_size;
  Ctf_buf.cstring b executable;
  Ctf_buf.cstring b (try Unix.gethostname () with _ -> "");
  Ctf_buf.cstring b (try Sys.runtime_parameters () with _ -> "");
  Ctf_buf.u64 b t.pid;
  Ctf_buf.cstring b context;
  write_packet t ~begin_us:time_us ~end_us:time_us ~alloc_begin:0 ~alloc_end:0 b;
  t

let ensure_location t code (describe : int -> location list) =
  if not (Hashtbl.mem t.known_codes code) then begin
    Hashtbl.add t.known_codes code ();
    add_location_event t code (describe code)
  end

(* [frames] are location codes in caller -> callee order (the allocation site last).
   Returns the allocation id. *)
let alloc t ~source ~length_words ~samples ~(frames : int array) ~describe =
  let n = Array.length frames in
  (* Keep the innermost frames when a stack is deeper than the cap. *)
  let first = if n > max_frames then n - max_frames else 0 in
  for i = first to n - 1 do ensure_location t frames.(i) describe done;
  let time_us = now_us t in
  let b = t.scratch in
  Ctf_buf.clear b;
  event_header b ~id:2 ~time_us;
  Ctf_buf.vint b length_words;
  Ctf_buf.vint b samples;
  Ctf_buf.u8 b (match source with Minor -> 0 | Major -> 1 | External -> 2);
  Ctf_buf.vint b 0; (* common_prefix *)
  Ctf_buf.u16 b (n - first);
  for i = first to n - 1 do
    (* tag 3 = miss: the literal code follows and is stored into the named bucket *)
    Ctf_buf.u16 b ((t.next_bucket lsl 2) lor 3);
    t.next_bucket <- (t.next_bucket + 1) land 0x3fff;
    Ctf_buf.u64 b frames.(i)
  done;
  append_event t time_us;
  let id = t.next_alloc_id in
  t.next_alloc_id <- id + 1;
  id

(* A location event for a code that no backtrace uses: how the recording library writes its own
   records (the exact task counts) so that every reader of the format still reads the trace. *)
let metadata t ~code ~filename ~defname =
  if not (Hashtbl.mem t.known_codes code) then Hashtbl.add t.known_codes code ();
  add_location_event t code [ { filename; line = 0; start_char = 0; end_char = 0; defname } ]

let object_event t ~event_id id =
  let time_us = now_us t in
  let b = t.scratch in
  Ctf_buf.clear b;
  event_header b ~id:event_id ~time_us;
  Ctf_buf.vint b (t.next_alloc_id - 1 - id);
  append_event t time_us

let promote t id = object_event t ~event_id:3 id
let collect t id = object_event t ~event_id:4 id

let close t =
  if not t.closed then begin
    t.closed <- true;
    flush t;
    Unix.close t.fd
  end
