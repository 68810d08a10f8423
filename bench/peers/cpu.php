<?php
// Bench peer: CPU-heavy jobs in PHP, the counterpart of bench/fixtures/mix-handler.mjs
// (LOOP mix: a 32-bit integer mixing step, pure PHP) and sha-handler.mjs (LOOP sha:
// chained hash('sha256') rounds). The workload is the number of rounds.
//
//   php cpu.php LOOP worker PORT FN          a pecl gearman worker
//   php cpu.php LOOP calibrate TARGET_MS     prints "result {"rounds":N,"jobMs":F}": the
//                                            rounds that take about TARGET_MS of CPU here,
//                                            and their median CPU time
//   php cpu.php LOOP measure ROUNDS SAMPLES  prints "result {"jobMs":F}": median CPU time of one job
//
// Worker line protocol: prints "ready" once FN is registered; on stdin "stop" or EOF
// prints "done {"jobs":N}" and exits 0. stdin is read only while idle.

function sha_loop(int $rounds): string
{
    $digest = str_repeat("\0", 32);
    for ($i = 0; $i < $rounds; $i++) {
        $digest = hash('sha256', $digest, true);
    }
    return bin2hex($digest);
}

function mix_loop(int $rounds): string
{
    $x = 0x9e3779b9;
    for ($i = 0; $i < $rounds; $i++) {
        $x = ((($x ^ ($x >> 15)) * 0x2c1b3c6d) + $i) & 0xffffffff;
    }
    return (string) $x;
}

function run_loop(int $rounds): string
{
    global $loop;
    return $loop === 'sha' ? sha_loop($rounds) : mix_loop($rounds);
}

// CPU time (user + system) rather than wall time: other processes taking a core now and
// then do not inflate it, and the loop is pure computation.
function cpu_us(): int
{
    $u = getrusage();
    return $u['ru_utime.tv_sec'] * 1000000 + $u['ru_utime.tv_usec'] + $u['ru_stime.tv_sec'] * 1000000 + $u['ru_stime.tv_usec'];
}

function job_ms(int $rounds): float
{
    $t = cpu_us();
    run_loop($rounds);
    return (cpu_us() - $t) / 1000;
}

function median_ms(int $rounds, int $samples): float
{
    $times = [];
    for ($i = 0; $i < $samples; $i++) {
        $times[] = job_ms($rounds);
    }
    sort($times);
    return $times[intdiv(count($times), 2)];
}

$loop = $argv[1] ?? '';
if ($loop !== 'sha' && $loop !== 'mix') {
    fwrite(STDERR, "usage: php cpu.php sha|mix worker PORT FN | calibrate TARGET_MS | measure ROUNDS SAMPLES\n");
    exit(2);
}
array_splice($argv, 1, 1);
$argc--;
$mode = $argv[1] ?? '';
if ($mode === 'calibrate' && $argc === 3) {
    $target = (float) $argv[2];
    $rounds = 1000;
    // Scale from a first guess, twice: the second pass corrects for the first's warm-up.
    for ($pass = 0; $pass < 3; $pass++) {
        $rounds = max(1, (int) round($rounds * $target / median_ms($rounds, 3)));
    }
    echo 'result ' . json_encode(['rounds' => $rounds, 'jobMs' => median_ms($rounds, 9)]) . "\n";
    exit(0);
}
if ($mode === 'measure' && $argc === 4) {
    echo 'result ' . json_encode(['jobMs' => median_ms((int) $argv[2], (int) $argv[3])]) . "\n";
    exit(0);
}
if ($mode !== 'worker' || $argc !== 4) {
    fwrite(STDERR, "usage: php cpu.php sha|mix worker PORT FN | calibrate TARGET_MS | measure ROUNDS SAMPLES\n");
    exit(2);
}
[, , $port, $fn] = $argv;
$jobs = 0;
$worker = new GearmanWorker();
$worker->addServer('127.0.0.1', (int) $port);
$worker->setTimeout(5);
$worker->addFunction($fn, function (GearmanJob $job) use (&$jobs) {
    $jobs++;
    return run_loop((int) $job->workload());
});
stream_set_blocking(STDIN, false);
echo "ready\n";
for (;;) {
    if (@$worker->work()) {
        continue;
    }
    $rc = $worker->returnCode();
    if ($rc !== GEARMAN_TIMEOUT && $rc !== GEARMAN_IO_WAIT && $rc !== GEARMAN_NO_JOBS) {
        fwrite(STDERR, "work() failed: " . $worker->error() . " (return code $rc)\n");
        exit(1);
    }
    while (($line = fgets(STDIN)) !== false) {
        if (trim($line) === 'stop') {
            break 2;
        }
    }
    if (feof(STDIN)) {
        break;
    }
}
echo 'done ' . json_encode(['jobs' => $jobs]) . "\n";
