from iotids.cli import main

main()
