package main

import (
	"fmt"
	"os"

	"github.com/fjord-gw/fjord/internal/config"
)

func main() {
	_, d := config.Load(os.Args[1])
	fmt.Print(d.String())
}
