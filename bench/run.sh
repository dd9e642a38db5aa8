#!/bin/sh
echo "benchmarks: to be written"
