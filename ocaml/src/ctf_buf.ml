(* A growable little-endian byte buffer with the integer encodings of the memtrace
   format (src/memtrace.tsdl of janestreet/memtrace): fixed-width little-endian
   integers, NUL-terminated strings and the "vint" variable-length integer. *)

type t = Buffer.t

let create n : t = Buffer.create n
let length = Buffer.length
let clear = Buffer.clear
let contents = Buffer.contents
let add_buffer = Buffer.add_buffer

let u8 b v = Buffer.add_uint8 b (v land 0xff)
let u16 b v = Buffer.add_uint16_le b (v land 0xffff)
let u32 b v = Buffer.add_int32_le b (Int32.of_int v)
let u64 b v = Buffer.add_int64_le b (Int64.of_int v)
let i64 b (v : int64) = Buffer.add_int64_le b v
let f64 b v = Buffer.add_int64_le b (Int64.bits_of_float v)

(* Strings are NUL-terminated, so an embedded NUL would end them early: replace it. *)
let cstring b s =
  String.iter (fun c -> Buffer.add_char b (if c = '\000' then '?' else c)) s;
  Buffer.add_char b '\000'

(* vint: a byte below 253 is the value itself; 253 prefixes a u16, 254 a 32-bit and
   255 a 64-bit value. The reference reader reads the 32- and 64-bit forms as signed,
   which is how negative deltas travel; we only write non-negative values. *)
let vint b v =
  if v >= 0 && v < 253 then u8 b v
  else if v >= 0 && v <= 0xffff then (u8 b 253; u16 b v)
  else if v >= Int32.to_int Int32.min_int && v <= Int32.to_int Int32.max_int then (u8 b 254; u32 b v)
  else (u8 b 255; u64 b v)
