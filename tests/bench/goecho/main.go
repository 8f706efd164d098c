// Command goecho is an echo server with one goroutine per connection.
package main

import (
	"flag"
	"log"
	"net"
	"time"
)

// serve sends back exactly the bytes each Read returns, until EOF or an error.
func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("listen", "127.0.0.1:7007", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Print(err)
			time.Sleep(10 * time.Millisecond) // out of fds: do not spin
			continue
		}
		go serve(c)
	}
}
