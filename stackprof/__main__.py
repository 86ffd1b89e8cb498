from stackprof.cli import main

main()
