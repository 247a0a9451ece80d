;; The MinHash permutation loop in WebAssembly with 128-bit SIMD: the same arithmetic as the JavaScript
;; kernel of minhash-signatures.ts (see its module comment), four permutations per vector lane group, and
;; bit-identical results. Assembled into minhash-kernel-wasm.ts by `npx tsx scripts/build-wasm.ts`.
;;
;; Permutation i of shingle hash s is h_i(x) = (a_i·x + b_i) mod p with x = s >>> 1, p = 2^31 − 1 and
;; (a_i, b_i) = (a + i·a', b + i·b') mod p, so h_{i+1}(x) = h_i(x) + d(x) mod p with d(x) = (a'·x + b') mod p.
;; A vector holds h_i..h_{i+3}; adding 4·d(x) mod p moves it to h_{i+4}..h_{i+7}. All values lie in [0, p),
;; so signed 32-bit minima and comparisons are exact.
;;
;; Memory: the caller writes `count` shingle hashes (u32) at byte offset `shingles` and reads the `padded`
;; minima (i32, padded = P rounded up to a multiple of 4) back from byte offset `mins` (16-byte aligned).
(module
  (memory (export "memory") 1)

  ;; (a·x + b) mod p, exact: a, x, b < 2^31, so a·x + b < 2^63 fits an unsigned i64. Since 2^31 ≡ 1 (mod p),
  ;; t ≡ (t & p) + (t >> 31); two folds leave t ≤ p + 2, one conditional subtraction finishes.
  (func $mulAddMod (param $a i64) (param $x i64) (param $b i64) (result i32)
    (local $t i64)
    (local.set $t (i64.add (i64.mul (local.get $a) (local.get $x)) (local.get $b)))
    (local.set $t (i64.add (i64.and (local.get $t) (i64.const 0x7fffffff)) (i64.shr_u (local.get $t) (i64.const 31))))
    (local.set $t (i64.add (i64.and (local.get $t) (i64.const 0x7fffffff)) (i64.shr_u (local.get $t) (i64.const 31))))
    (i32.wrap_i64
      (select
        (i64.sub (local.get $t) (i64.const 0x7fffffff))
        (local.get $t)
        (i64.ge_u (local.get $t) (i64.const 0x7fffffff)))))

  ;; (x + y) mod p for x, y in [0, p), without a branch: x − p + y is in [−p, p); add p back when negative.
  (func $addMod (param $x i32) (param $y i32) (result i32)
    (local $s i32)
    (local.set $s (i32.add (i32.sub (local.get $x) (i32.const 0x7fffffff)) (local.get $y)))
    (i32.add (local.get $s) (i32.and (i32.shr_s (local.get $s) (i32.const 31)) (i32.const 0x7fffffff))))

  ;; x = s >>> 1 for the j-th shingle hash s.
  (func $shingleX (param $shingles i32) (param $j i32) (result i64)
    (i64.extend_i32_u
      (i32.shr_u
        (i32.load (i32.add (local.get $shingles) (i32.shl (local.get $j) (i32.const 2))))
        (i32.const 1))))

  ;; [h_0(x), h_1(x), h_2(x), h_3(x)].
  (func $firstLanes (param $x i64) (param $a i64) (param $b i64) (param $aStep i64) (param $bStep i64) (result v128)
    (local $h i32) (local $d i32) (local $v v128)
    (local.set $h (call $mulAddMod (local.get $a) (local.get $x) (local.get $b)))
    (local.set $d (call $mulAddMod (local.get $aStep) (local.get $x) (local.get $bStep)))
    (local.set $v (i32x4.splat (local.get $h)))
    (local.set $h (call $addMod (local.get $h) (local.get $d)))
    (local.set $v (i32x4.replace_lane 1 (local.get $v) (local.get $h)))
    (local.set $h (call $addMod (local.get $h) (local.get $d)))
    (local.set $v (i32x4.replace_lane 2 (local.get $v) (local.get $h)))
    (local.set $h (call $addMod (local.get $h) (local.get $d)))
    (i32x4.replace_lane 3 (local.get $v) (local.get $h)))

  ;; 4·d(x) mod p − p in every lane: adding it to h_i..h_{i+3} gives [−p, p); adding p to the negative lanes
  ;; then gives h_{i+4}..h_{i+7}.
  (func $stepLanes (param $x i64) (param $aStep i64) (param $bStep i64) (result v128)
    (local $d i32)
    (local.set $d (call $mulAddMod (local.get $aStep) (local.get $x) (local.get $bStep)))
    (local.set $d (call $addMod (local.get $d) (local.get $d)))
    (i32x4.splat (i32.sub (call $addMod (local.get $d) (local.get $d)) (i32.const 0x7fffffff))))

  ;; Writes the minima over `count` shingles of permutations 0..padded−1 at `mins`; p where count = 0.
  ;; Shingles go two at a time (an odd last one pairs with itself), so each vector of minima is loaded and
  ;; stored once per two shingles.
  (func (export "signature")
    (param $shingles i32) (param $count i32) (param $mins i32) (param $padded i32)
    (param $a i64) (param $b i64) (param $aStep i64) (param $bStep i64)
    (local $j i32) (local $x i64) (local $y i64) (local $at i32) (local $end i32)
    (local $p v128) (local $v v128) (local $dv v128) (local $w v128) (local $dw v128)
    (local.set $p (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $end (i32.add (local.get $mins) (i32.shl (local.get $padded) (i32.const 2))))
    (local.set $at (local.get $mins))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (local.get $at) (local.get $p))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $fill)))
    (block $done
      (loop $pair
        (br_if $done (i32.ge_u (local.get $j) (local.get $count)))
        (local.set $x (call $shingleX (local.get $shingles) (local.get $j)))
        (local.set $y
          (call $shingleX (local.get $shingles)
            (select
              (i32.add (local.get $j) (i32.const 1))
              (local.get $j)
              (i32.lt_u (i32.add (local.get $j) (i32.const 1)) (local.get $count)))))
        (local.set $v (call $firstLanes (local.get $x) (local.get $a) (local.get $b) (local.get $aStep) (local.get $bStep)))
        (local.set $dv (call $stepLanes (local.get $x) (local.get $aStep) (local.get $bStep)))
        (local.set $w (call $firstLanes (local.get $y) (local.get $a) (local.get $b) (local.get $aStep) (local.get $bStep)))
        (local.set $dw (call $stepLanes (local.get $y) (local.get $aStep) (local.get $bStep)))
        (local.set $at (local.get $mins))
        (loop $permutations
          (v128.store (local.get $at)
            (i32x4.min_s (i32x4.min_s (v128.load (local.get $at)) (local.get $v)) (local.get $w)))
          (local.set $v (i32x4.add (local.get $v) (local.get $dv)))
          (local.set $v (i32x4.add (local.get $v) (v128.and (i32x4.shr_s (local.get $v) (i32.const 31)) (local.get $p))))
          (local.set $w (i32x4.add (local.get $w) (local.get $dw)))
          (local.set $w (i32x4.add (local.get $w) (v128.and (i32x4.shr_s (local.get $w) (i32.const 31)) (local.get $p))))
          (local.set $at (i32.add (local.get $at) (i32.const 16)))
          (br_if $permutations (i32.lt_u (local.get $at) (local.get $end))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pair))))
)
