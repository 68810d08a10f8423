<?php
// Bench peer: a pecl gearman client making sequential foreground calls (doNormal).
//
//   php roundtrip.php PORT WARM_FN MAIN_FN COUNT WARM_COUNT PAYLOAD
//
// WARM_COUNT calls to WARM_FN first (untimed; this also connects), then COUNT timed
// calls to MAIN_FN, each checked to echo the payload back.
// Prints "result {"ns":N,"count":N,"cpuUs":N,"meanUs":F,"p50Us":F,"p99Us":F}" for the
// timed part (cpuUs: user + system CPU time of this process).

if ($argc !== 7) {
    fwrite(STDERR, "usage: php roundtrip.php PORT WARM_FN MAIN_FN COUNT WARM_COUNT PAYLOAD\n");
    exit(2);
}
[$_, $port, $warmFn, $mainFn, $count, $warmCount, $payload] = $argv;
$count = (int) $count;
$warmCount = (int) $warmCount;

function cpuUs(): int
{
    $u = getrusage();
    return $u['ru_utime.tv_sec'] * 1000000 + $u['ru_utime.tv_usec'] + $u['ru_stime.tv_sec'] * 1000000 + $u['ru_stime.tv_usec'];
}

$client = new GearmanClient();
$client->addServer('127.0.0.1', (int) $port);

function call(GearmanClient $client, string $fn, string $payload): void
{
    $result = $client->doNormal($fn, $payload);
    if ($client->returnCode() !== GEARMAN_SUCCESS || $result !== $payload) {
        fwrite(STDERR, "doNormal() failed: " . $client->error() . " (return code " . $client->returnCode() . ")\n");
        exit(1);
    }
}

for ($i = 0; $i < $warmCount; $i++) {
    call($client, $warmFn, $payload);
}
$latencies = [];
$cpu = cpuUs();
$start = hrtime(true);
for ($i = 0; $i < $count; $i++) {
    $t = hrtime(true);
    call($client, $mainFn, $payload);
    $latencies[] = hrtime(true) - $t;
}
$ns = hrtime(true) - $start;
$cpu = cpuUs() - $cpu;
sort($latencies);
$rank = fn (float $q) => $latencies[min($count - 1, max(0, (int) ceil($q * $count) - 1))] / 1000;
echo 'result ' . json_encode([
    'ns' => $ns,
    'count' => $count,
    'cpuUs' => $cpu,
    'meanUs' => array_sum($latencies) / $count / 1000,
    'p50Us' => $rank(0.5),
    'p99Us' => $rank(0.99),
]) . "\n";
